/**
 * Stepping host records: the one place the mutator calls core's `step`, and convergence
 * synthesis built on it. A step persists the record, keeps memory to the `CpState` rule, applies
 * the effects and tells the rollout (HostStateChanged, RolloutTerminal when all converged or
 * skipped). A step that moves the host or its closure updates its durable record
 * (`known-hosts.ts`), so the hosts view shows a switch as soon as the agent reports it.
 * Invariants: host records change only through `step`; synthesized events are marked as such in
 * the event log and counted; a host leaving Pending loses its queued dispatch.
 */
import {
  allHostsConverged,
  convergenceAllowed,
  describeHostStepError,
  isClosed,
  isUnderway,
  resolveHostPolicy,
  step,
  synthesisPolicy,
  synthesizedActivation,
  synthesizedConverged,
  type FleetView as CoreFleet,
  type HostEvent,
  type HostFailure,
  type HostPolicy,
  type HostRolloutState,
} from '../../core/index.ts'
import { pairKey } from '../state.ts'
import type { MutatorContext } from './context.ts'
import { noteHostStep } from './known-hosts.ts'
import { stepRolloutEvent } from './rollout-steps.ts'
import { labelWord } from '../../runtime/prometheus.ts'

/** The host policy of a wave of a rollout, from the policy frozen when it opened. */
export function policyFor(
  ctx: MutatorContext,
  rolloutId: string,
  channel: string,
  waveIndex: number
): HostPolicy | undefined {
  const frozen = ctx.state.rollouts.get(rolloutId)?.policy
  if (frozen === undefined || frozen.policy === null) return undefined
  const fleet: CoreFleet = {
    hosts: {},
    channels: { [channel]: { rolloutPolicy: frozen.policyName } },
    rolloutPolicies: { [frozen.policyName]: frozen.policy },
    waves: { [channel]: frozen.waves },
    edges: [],
    channelEdges: [],
  }
  return resolveHostPolicy(fleet, channel, waveIndex)
}

/** The record of a pair, live or retired (`CpState.retired`); `undefined` when there is none. */
export function findRecord(
  ctx: MutatorContext,
  rolloutId: string,
  host: string
): { state: HostRolloutState; waveIndex: number } | undefined {
  return ctx.state.record(rolloutId, host)
}

/** The wave index of a live record. */
export function waveOf(ctx: MutatorContext, rolloutId: string, host: string): number {
  return ctx.state.waveIndex.get(pairKey(rolloutId, host)) ?? 0
}

/**
 * Steps one host record and applies everything that follows; the error if `step` refused.
 * `onHostSoak` false steps under `synthesisPolicy` (convergence of a host already at its target).
 */
export function stepHost(
  ctx: MutatorContext,
  prev: HostRolloutState,
  waveIndex: number,
  event: HostEvent,
  synthesized: boolean,
  onHostSoak = true
): string | undefined {
  const { state, store, applier, now } = ctx
  const policy = policyFor(ctx, prev.rolloutId, prev.channel, waveIndex)
  if (policy === undefined) return `no rollout policy is known for ${prev.rolloutId}`
  const r = step(prev, event, now, onHostSoak ? policy : synthesisPolicy(policy))
  if (!r.ok) return describeHostStepError(r.error)
  const next = r.state
  store.hosts.upsert(next, waveIndex)
  const rollout = state.rollouts.get(next.rolloutId)
  const live = rollout !== undefined && !isClosed(rollout.record.phase)
  if (live || isUnderway(next.phase)) {
    state.putHost(next, waveIndex)
    // The soak that gates promotion runs on the CP's clock from when the CP saw the activation.
    if (next.phase === 'Soaking' || next.phase === 'Converged')
      state.startSoak(next.rolloutId, next.hostname, now + policy.soakMs)
  } else state.retireHost(next, waveIndex)
  if (next.phase !== prev.phase || next.currentClosure !== prev.currentClosure)
    noteHostStep(ctx, next)
  applier.applyHostEffects(r.effects, { now, synthesized })
  if (synthesized)
    ctx.metrics.synthesized.inc({ kind: labelWord(event.type.replace(/^Remote/, '')) })
  if (next.phase !== prev.phase) {
    ctx.markDirty()
    if (prev.phase === 'Pending') applier.withdrawDispatch(next.hostname, next.rolloutId)
    const failed = next.phase === 'Failed' || next.phase === 'Reverted'
    stepRolloutEvent(ctx, {
      type: 'HostStateChanged',
      rolloutId: next.rolloutId,
      hostname: next.hostname,
      from: prev.phase,
      to: next.phase,
      at: now,
      ...(failed ? { failure: failureOf(next, event) } : {}),
    })
    if (next.phase === 'Converged' && live) completeIfDone(ctx, next.rolloutId)
  }
  return undefined
}

/** What made a host fail, for the halt it causes (the history shows it after a supersede). */
export function failureOf(next: HostRolloutState, event: HostEvent): HostFailure {
  if (event.type === 'RemoteActivationFailed') {
    const tail = event.stderrTail.trim().split('\n').at(-1) ?? ''
    return {
      probe: null,
      reason: `activation failed (exit ${event.exitCode})${tail === '' ? '' : `: ${tail}`}`,
    }
  }
  if (event.type === 'RemoteFailed') {
    const probe = event.failingProbes[0] ?? null
    const why = probe === null ? null : next.probes[probe]?.failureReason
    return {
      probe,
      reason: why ?? `enforce probes failing for ${event.sustainedDurationSecs}s`,
    }
  }
  return { probe: null, reason: `host ${next.phase}` }
}

/** Steps `RolloutTerminal` once every host of the rollout is Converged or skipped. */
export function completeIfDone(ctx: MutatorContext, rolloutId: string): void {
  const hosts = Object.values(ctx.state.hosts[rolloutId] ?? {}).map((h) => ({
    phase: h.phase,
    skipped: ctx.state.skipOf(rolloutId, h.hostname) !== undefined,
  }))
  if (allHostsConverged(hosts))
    stepRolloutEvent(ctx, { type: 'RolloutTerminal', rolloutId, at: ctx.now })
}

/**
 * Pending → Converged for a host already running its target (DispatchAck, Completed, Converged),
 * timed at the agent's `reportedAt` but never after the CP's clock; its soak then runs on the
 * CP's clock (`startSoak`) before it promotes anything.
 */
export function synthesizeConverged(
  ctx: MutatorContext,
  rec: HostRolloutState,
  reportedAt: number
): boolean {
  const { state } = ctx
  const at = Math.min(reportedAt, ctx.now)
  if (!convergenceAllowed(rec, state.rollouts.get(rec.rolloutId)?.record)) return false
  const waveIndex = waveOf(ctx, rec.rolloutId, rec.hostname)
  for (const ev of synthesizedActivation(rec, at)) {
    const cur = state.host(rec.rolloutId, rec.hostname)
    if (cur === undefined || stepHost(ctx, cur, waveIndex, ev, true, false) !== undefined)
      return false
  }
  const soaking = state.host(rec.rolloutId, rec.hostname)
  if (soaking === undefined) return false
  const converged = synthesizedConverged(soaking, at)
  const err = stepHost(ctx, soaking, waveIndex, converged, true, false)
  if (err !== undefined) {
    ctx.refusals(
      'warn',
      `${rec.hostname}\u0000${rec.rolloutId}\u0000${err}`,
      'convergence synthesis refused',
      {
        host: rec.hostname,
        rolloutId: rec.rolloutId,
        reason: err,
      }
    )
    return false
  }
  ctx.log.info('host already at its target; convergence synthesized', {
    host: rec.hostname,
    rolloutId: rec.rolloutId,
  })
  return true
}
