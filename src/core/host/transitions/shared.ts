/**
 * Building blocks shared by the per-state transition modules: result constructors and the
 * effect sequences every arm uses, so effect order is defined once (spec §1.6).
 *
 * Invariants:
 * - Local arms emit `[...before, LocalEmitEvent, RecordTransition?, ...after]`; Remote arms emit
 *   `[RemoteAppendEventLog, ...middle, RecordTransition?]`.
 * - A successful arm always stores the event's seq as `lastEventSeq`.
 * - Transition times come from the event (agent clock), never from `now`, so the agent and the
 *   CP mirror compute identical records from the same event stream.
 */
import type { OnHealthFailure } from '../../types.ts'
import type { HostEffect } from '../effects.ts'
import type { HostStepError } from '../errors.ts'
import { isLocal, toOutbound, type HostEvent } from '../events.ts'
import type { HostPhase, HostPolicy, HostRolloutState } from '../state.ts'

/** The outcome of one host `step`. */
export type HostStepResult =
  | {
      readonly ok: true
      readonly state: HostRolloutState
      readonly effects: readonly HostEffect[]
    }
  | { readonly ok: false; readonly error: HostStepError }

/** What every transition may read besides the record and the event. */
export type StepContext = { readonly now: number; readonly policy: HostPolicy }

/** The successful result, stamping the event's seq on the record. */
export function ok(
  state: HostRolloutState,
  event: HostEvent,
  effects: readonly HostEffect[]
): HostStepResult {
  return { ok: true, state: { ...state, lastEventSeq: event.seq }, effects }
}

/** The `IllegalForState` result. */
export function illegal(state: HostRolloutState, event: HostEvent): HostStepResult {
  return {
    ok: false,
    error: {
      type: 'IllegalForState',
      from: state.phase,
      event: event.type,
      rolloutId: state.rolloutId,
      hostname: state.hostname,
    },
  }
}

/** The `Invariant` result listing every violated rule. */
export function invariant(
  state: HostRolloutState,
  event: HostEvent,
  violations: readonly string[]
): HostStepResult {
  return {
    ok: false,
    error: {
      type: 'Invariant',
      event: event.type,
      violations,
      rolloutId: state.rolloutId,
      hostname: state.hostname,
    },
  }
}

/** The `RecordTransition` effect for `prev.phase → to` at `at`. */
export function recordTransition(prev: HostRolloutState, to: HostPhase, at: number): HostEffect {
  return {
    type: 'RecordTransition',
    hostname: prev.hostname,
    rolloutId: prev.rolloutId,
    from: prev.phase,
    to,
    at,
  }
}

/** The effect that reports `event`: outbound on the agent, event-log append on the CP. */
export function report(prev: HostRolloutState, event: HostEvent, durable: boolean): HostEffect {
  const payload = toOutbound(event)
  return isLocal(event)
    ? { type: 'LocalEmitEvent', rolloutId: prev.rolloutId, payload, durable }
    : { type: 'RemoteAppendEventLog', hostname: prev.hostname, rolloutId: prev.rolloutId, payload }
}

/**
 * The effects of an arm that changes phase: report (durable) + RecordTransition, with the
 * side-specific extras placed as the spec orders them.
 */
export function moved(
  prev: HostRolloutState,
  event: HostEvent,
  to: HostPhase,
  at: number,
  extras: {
    readonly localBefore?: readonly HostEffect[]
    readonly localAfter?: readonly HostEffect[]
    readonly remoteMiddle?: readonly HostEffect[]
  } = {}
): HostEffect[] {
  const rec = recordTransition(prev, to, at)
  const rep = report(prev, event, true)
  return isLocal(event)
    ? [...(extras.localBefore ?? []), rep, rec, ...(extras.localAfter ?? [])]
    : [rep, ...(extras.remoteMiddle ?? []), rec]
}

/**
 * The rollback a failure triggers on the agent: none under `halt`; under `rollback-and-halt`
 * a switch to the closure the host ran before dispatch (DECISIONS §3.7). Without a usable prior
 * closure (unknown, empty, or the target itself, as reference agents report) rolling back would
 * be a no-op or worse, so the arm logs a warning instead and the host stays Failed.
 */
export function rollbackEffects(
  prev: HostRolloutState,
  event: HostEvent,
  policy: OnHealthFailure
): HostEffect[] {
  if (!isLocal(event) || policy !== 'rollback-and-halt') return []
  const prior = prev.currentClosureAtDispatch
  if (prior === null || prior === '' || prior === prev.targetClosure) {
    return [
      {
        type: 'EmitLog',
        level: 'warn',
        target: 'host',
        message: 'rollback-and-halt: no prior closure to roll back to; host stays Failed',
        fields: { rolloutId: prev.rolloutId, hostname: prev.hostname, prior },
      },
    ]
  }
  return [{ type: 'LocalFireRollbackTo', rolloutId: prev.rolloutId, closure: prior }]
}
