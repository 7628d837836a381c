/**
 * The rollout reducer (spec §2.4, CP only): `stepRollout(record, event, now)`, one arm per
 * (state, event) pair of the reference table, plus the halt condition (DECISIONS §3.4).
 *
 * Differences from the reference table, all about halting:
 * - Active/Converging + HostStateChanged(to Failed|Reverted) also sets `halt`.
 * - Failed/Reverted + HostStateChanged(to Failed) re-halts a resumed rollout (a new failure);
 *   a host finishing its rollback (Failed → Reverted) does not.
 * - Failed/Reverted + OperatorClearance resumes (clears `halt`; a no-op when not halted);
 *   the reference left it unimplemented.
 * - SuccessorOpened clears `halt`: a superseding release ends the halt (`lastHalt` keeps it).
 * - A resumed (not halted) Failed/Reverted rollout still advances its wave cursor and becomes
 *   Terminal once every host is done: a resume is not a dead end.
 * - OperatorCancelled closes any open rollout (→ Cancelled, halt cleared); the reference has no
 *   cancel, and retention (`RetentionExpired`) is not one.
 *
 * Invariants: pure and total; `currentWave` is monotonic; `RecordRolloutTransition` is emitted
 * exactly when the phase changes; an event addressed to another rollout is an `Invariant` error.
 */
import type { HostPhase } from '../host/state.ts'
import { assertNever } from '../lib/assert-never.ts'
import type { RolloutEffect } from './effects.ts'
import { targetRolloutId, type RolloutEvent, type RolloutEventType } from './events.ts'
import type { RolloutHalt, RolloutPhase, RolloutRecord } from './state.ts'

/** The reasons `stepRollout` refuses an event. */
export type RolloutStepError =
  | {
      readonly type: 'IllegalForState'
      readonly from: RolloutPhase
      readonly event: RolloutEventType
      readonly rolloutId: string
    }
  | { readonly type: 'Invariant'; readonly rolloutId: string; readonly reason: string }

/** The outcome of one rollout step. */
export type RolloutStepResult =
  | {
      readonly ok: true
      readonly record: RolloutRecord
      readonly effects: readonly RolloutEffect[]
    }
  | { readonly ok: false; readonly error: RolloutStepError }

/** The record a `RolloutOpened` fact creates: Opening, wave 0, not halted. */
export function openRolloutRecord(
  event: Extract<RolloutEvent, { type: 'RolloutOpened' }>
): RolloutRecord {
  return {
    rolloutId: event.rolloutId,
    channel: event.channel,
    targetRef: event.targetRef,
    phase: 'Opening',
    currentWave: 0,
    openedAt: event.at,
    terminalAt: null,
    supersededAt: null,
    halt: null,
    lastResume: null,
    lastHalt: null,
    cancelled: null,
    supersededBy: null,
  }
}

/** The rollout reducer. `now` is unused by design: times come from the event. */
export function stepRollout(
  record: RolloutRecord,
  event: RolloutEvent,
  now: number
): RolloutStepResult {
  void now
  if (targetRolloutId(event) !== record.rolloutId) {
    return {
      ok: false,
      error: {
        type: 'Invariant',
        rolloutId: record.rolloutId,
        reason: `${event.type} addressed to ${targetRolloutId(event)}`,
      },
    }
  }
  switch (record.phase) {
    case 'Opening':
      return fromOpening(record, event)
    case 'Active':
    case 'Converging':
      return fromInFlight(record, event)
    case 'Terminal':
      return fromTerminal(record, event)
    case 'Failed':
    case 'Reverted':
      return fromFailedOrReverted(record, event)
    case 'Superseded':
      return fromSuperseded(record, event)
    case 'Cancelled':
      return fromSuperseded(record, event)
    case 'Pruned':
      return illegal(record, event)
    default:
      return assertNever(record.phase, 'rollout phase')
  }
}

function fromOpening(record: RolloutRecord, event: RolloutEvent): RolloutStepResult {
  switch (event.type) {
    case 'HostJoined':
      // The wave cursor is untouched even when the first host joins in a later wave (D-027).
      return moveTo(record, 'Active', event.at)
    case 'SuccessorOpened':
      return superseded(record, event)
    case 'OperatorCancelled':
      return cancelled(record, event)
    default:
      return illegal(record, event)
  }
}

function fromInFlight(record: RolloutRecord, event: RolloutEvent): RolloutStepResult {
  switch (event.type) {
    case 'HostJoined':
      return noop(record)
    case 'HostStateChanged':
      if (event.to === 'Failed' || event.to === 'Reverted') {
        const halt = haltOf(event, event.to)
        return moveTo(record, event.to, event.at, { halt, lastHalt: halt }, [
          halted(record, event.hostname, event.at),
        ])
      }
      return noop(record)
    case 'WaveAdvanced':
      if (event.toWave > event.fromWave) {
        const wave = raiseWave(record, event.toWave)
        return record.phase === 'Converging'
          ? moveTo(record, 'Active', event.at, wave.patch, wave.effects)
          : ok({ ...record, ...wave.patch }, wave.effects)
      }
      return record.phase === 'Active' ? moveTo(record, 'Converging', event.at) : noop(record)
    case 'RolloutTerminal':
      return moveTo(record, 'Terminal', event.at, { terminalAt: event.at })
    case 'SuccessorOpened':
      return superseded(record, event)
    case 'OperatorCancelled':
      return cancelled(record, event)
    default:
      return illegal(record, event)
  }
}

function fromTerminal(record: RolloutRecord, event: RolloutEvent): RolloutStepResult {
  switch (event.type) {
    case 'HostJoined':
    case 'HostStateChanged':
    case 'RolloutTerminal':
      return noop(record)
    case 'SuccessorOpened':
      return superseded(record, event)
    case 'RetentionExpired':
      return pruned(record, event.at)
    default:
      return illegal(record, event)
  }
}

function fromFailedOrReverted(record: RolloutRecord, event: RolloutEvent): RolloutStepResult {
  switch (event.type) {
    case 'HostJoined':
      return noop(record)
    case 'WaveAdvanced': {
      // Halt means halt; once resumed the cursor moves again (the phase keeps the failure).
      if (record.halt !== null) return noop(record)
      const wave = raiseWave(record, event.toWave)
      return wave.effects.length === 0
        ? noop(record)
        : ok({ ...record, ...wave.patch }, wave.effects)
    }
    case 'RolloutTerminal':
      return record.halt === null
        ? moveTo(record, 'Terminal', event.at, { terminalAt: event.at })
        : noop(record)
    case 'HostStateChanged':
      // A fresh failure after an operator resume halts again; a rollback finishing does not.
      if (event.to === 'Failed' && record.halt === null) {
        const halt = haltOf(event, event.to)
        return ok({ ...record, halt, lastHalt: halt }, [halted(record, event.hostname, event.at)])
      }
      return noop(record)
    case 'OperatorClearance': {
      if (record.halt === null) return noop(record)
      const lastResume = { at: event.at, operator: event.operator, reason: event.reason }
      return ok({ ...record, halt: null, lastResume }, [
        {
          type: 'RecordRolloutResumed',
          rolloutId: record.rolloutId,
          operator: event.operator,
          reason: event.reason,
          at: event.at,
        },
      ])
    }
    case 'SuccessorOpened':
      return superseded(record, event)
    case 'OperatorCancelled':
      return cancelled(record, event)
    case 'RetentionExpired':
      return pruned(record, event.at)
    default:
      return illegal(record, event)
  }
}

/** Superseded or Cancelled: late facts are ignored; only retention moves it on. */
function fromSuperseded(record: RolloutRecord, event: RolloutEvent): RolloutStepResult {
  switch (event.type) {
    case 'HostJoined':
    case 'HostStateChanged':
    case 'WaveAdvanced':
    case 'RolloutTerminal':
    case 'SuccessorOpened':
      return noop(record)
    case 'RetentionExpired':
      return pruned(record, event.at)
    default:
      return illegal(record, event)
  }
}

function ok(record: RolloutRecord, effects: readonly RolloutEffect[]): RolloutStepResult {
  return { ok: true, record, effects }
}

function noop(record: RolloutRecord): RolloutStepResult {
  return ok(record, [])
}

function illegal(record: RolloutRecord, event: RolloutEvent): RolloutStepResult {
  return {
    ok: false,
    error: {
      type: 'IllegalForState',
      from: record.phase,
      event: event.type,
      rolloutId: record.rolloutId,
    },
  }
}

function moveTo(
  record: RolloutRecord,
  to: RolloutPhase,
  at: number,
  patch: Partial<RolloutRecord> = {},
  extra: readonly RolloutEffect[] = []
): RolloutStepResult {
  const transition: RolloutEffect = {
    type: 'RecordRolloutTransition',
    rolloutId: record.rolloutId,
    from: record.phase,
    to,
    at,
  }
  return ok({ ...record, ...patch, phase: to }, [transition, ...extra])
}

function superseded(
  record: RolloutRecord,
  event: Extract<RolloutEvent, { type: 'SuccessorOpened' }>
): RolloutStepResult {
  return moveTo(record, 'Superseded', event.at, {
    supersededAt: event.at,
    supersededBy: event.successorRolloutId,
    halt: null,
  })
}

function cancelled(
  record: RolloutRecord,
  event: Extract<RolloutEvent, { type: 'OperatorCancelled' }>
): RolloutStepResult {
  const cancel = { at: event.at, operator: event.operator, reason: event.reason }
  return moveTo(record, 'Cancelled', event.at, { cancelled: cancel, halt: null })
}

function pruned(record: RolloutRecord, at: number): RolloutStepResult {
  // Retention ends everything, including a halt nobody resolved in 90 days.
  return moveTo(record, 'Pruned', at, { halt: null })
}

function haltOf(
  event: Extract<RolloutEvent, { type: 'HostStateChanged' }>,
  hostPhase: 'Failed' | 'Reverted'
): RolloutHalt {
  const base = { at: event.at, hostname: event.hostname, hostPhase }
  return event.failure === undefined ? base : { ...base, failure: event.failure }
}

function halted(record: RolloutRecord, hostname: string, at: number): RolloutEffect {
  return { type: 'RecordRolloutHalted', rolloutId: record.rolloutId, hostname, at }
}

function raiseWave(
  record: RolloutRecord,
  toWave: number
): { patch: Partial<RolloutRecord>; effects: RolloutEffect[] } {
  if (toWave <= record.currentWave) return { patch: {}, effects: [] }
  return {
    patch: { currentWave: toWave },
    effects: [{ type: 'UpdateCurrentWave', rolloutId: record.rolloutId, wave: toWave }],
  }
}

/**
 * Whether every host record of a rollout is Converged or skipped by an operator (the CP then
 * emits RolloutTerminal): nothing is left to do.
 */
export function allHostsConverged(
  hosts: readonly { readonly phase: HostPhase; readonly skipped?: boolean }[]
): boolean {
  return hosts.length > 0 && hosts.every((h) => h.phase === 'Converged' || h.skipped === true)
}
