/**
 * `PlanTick`: one planning round — core's `planNext` over the adopted release and the live
 * records, each action applied: open a rollout (superseding the channel's older ones), advance a
 * wave, or admit/defer a host's dispatch through core's dispatch admission.
 * Invariants: the only caller of `planNext`; a round re-plans at once while its actions changed
 * what the next pass would decide (a rollout opened, a convergence synthesized), at most
 * `MAX_PLAN_PASSES` times, then leaves the rest to a debounced pass; the planner's latest
 * verdict per pair is kept (`state.decisions`) for heartbeat synthesis. Gate sentences name the
 * problem of the host that holds a wave or edge (`host-facts.ts`), at the pass's `now`.
 */
import {
  admitDispatch,
  convergesDespite,
  newPendingHost,
  openRolloutRecord,
  planNext,
  problemLabel,
  type FleetView as CoreFleet,
  type PlanAction,
} from '../../core/index.ts'
import type { FrozenPolicy } from '../../db/store.ts'
import { closureView } from '../closures.ts'
import { heartbeatIntervalMsOf } from '../config.ts'
import { problemOf } from '../host-facts.ts'
import { pairKey } from '../state.ts'
import type { MutatorContext } from './context.ts'
import { policyFor, synthesizeConverged } from './host-steps.ts'
import type { InputOf } from './inputs.ts'
import { rolloutEventPayload, stepRolloutEvent } from './rollout-steps.ts'

// A plan pass that opened rollouts or synthesized convergence re-plans at once, at most this
// often per input: enough to cascade a DB-rebuilt fleet through its waves, bounded in cost.
const MAX_PLAN_PASSES = 8

/** One planning round: plan, apply, and re-plan while that unlocked more (bounded). */
export function runPlan(ctx: MutatorContext): void {
  const { state } = ctx
  for (let pass = 0; pass < MAX_PLAN_PASSES; pass++) {
    const manifests = state.manifestSet()
    if (manifests === undefined) return
    const fleet = {
      ...state.fleetState(),
      hostProblems: problemLabels(ctx),
      closures: closureView(state),
    }
    const actions = planNext(manifests, fleet, state.quarantineSet(), ctx.now)
    state.lastPlanAt = ctx.now
    let again = false
    for (const action of actions) if (applyPlanAction(ctx, action)) again = true
    if (!again) return
  }
  ctx.markDirty()
}

/** The problem of every declared host that has one, in the words gate sentences use. */
function problemLabels(ctx: MutatorContext): Record<string, string> {
  const out: Record<string, string> = {}
  const interval = heartbeatIntervalMsOf(ctx.options.heartbeatIntervalMs)
  for (const host of Object.keys(ctx.state.release?.fleet.value.hosts ?? {})) {
    const p = problemOf(ctx.state, host, ctx.now, interval)
    if (p !== null) out[host] = problemLabel(p, ctx.now)
  }
  return out
}

/** Applies one plan action; true when it changed what the next pass would decide. */
function applyPlanAction(ctx: MutatorContext, a: PlanAction): boolean {
  switch (a.type) {
    case 'OpenRollout':
      openRollout(ctx, a.rolloutId, a.channel, a.targetRef)
      return true
    case 'AdvanceWave':
      stepRolloutEvent(ctx, {
        type: 'WaveAdvanced',
        rolloutId: a.rolloutId,
        fromWave: a.fromWave,
        toWave: a.toWave,
        at: ctx.now,
      })
      return false
    case 'QueueDispatch':
      return queueDispatch(ctx, a)
    case 'DeferDispatch':
      return deferDispatch(ctx, a)
    default: {
      const never: never = a
      throw new Error(`unknown plan action ${(never as { type: string }).type}`)
    }
  }
}

function openRollout(
  ctx: MutatorContext,
  rolloutId: string,
  channel: string,
  targetRef: string
): void {
  const { state, store, applier, now } = ctx
  const release = state.release
  const manifest = release?.manifests[channel]
  if (release === undefined || manifest === undefined) return
  const fleet: CoreFleet = release.fleet.value
  const policyName = fleet.channels[channel]?.rolloutPolicy ?? ''
  const policy: FrozenPolicy = {
    policyName,
    policy: Object.hasOwn(fleet.rolloutPolicies, policyName)
      ? fleet.rolloutPolicies[policyName]!
      : null,
    waves: fleet.waves[channel] ?? [],
  }
  const predecessors = [...state.rollouts.values()]
    .filter((r) => r.record.channel === channel && r.record.rolloutId !== rolloutId)
    .filter(
      (r) =>
        r.record.phase !== 'Superseded' &&
        r.record.phase !== 'Pruned' &&
        r.record.phase !== 'Cancelled'
    )
    .map((r) => r.record.rolloutId)
  const opened = { type: 'RolloutOpened', rolloutId, channel, targetRef, at: now } as const
  const record = openRolloutRecord(opened)
  const seq = applier.append('rollout_event', now, rolloutEventPayload(opened), null, rolloutId)
  const budgets = manifest.value.disruptionBudgets
  store.rollouts.insert(record, policy, budgets, seq)
  state.rollouts.set(rolloutId, { record, policy, budgets })
  for (const old of predecessors) {
    stepRolloutEvent(ctx, {
      type: 'SuccessorOpened',
      supersededRolloutId: old,
      successorRolloutId: rolloutId,
      at: now,
    })
  }
  const hosts: string[] = []
  for (const entry of manifest.value.hostSet) {
    const rec = newPendingHost({
      rolloutId,
      hostname: entry.hostname,
      channel,
      targetClosure: entry.targetClosure,
      dispatchedAt: now,
    })
    store.hosts.upsert(rec, entry.waveIndex)
    state.putHost(rec, entry.waveIndex)
    hosts.push(entry.hostname)
    stepRolloutEvent(ctx, {
      type: 'HostJoined',
      rolloutId,
      hostname: entry.hostname,
      wave: entry.waveIndex,
      at: now,
    })
  }
  applier.append(
    'plan_action',
    now,
    { action: 'OpenRollout', rolloutId, channel, targetRef, hosts },
    null,
    rolloutId
  )
  ctx.log.info('rollout opened', { rolloutId, hosts: hosts.length, superseded: predecessors })
}

function queueDispatch(
  ctx: MutatorContext,
  a: Extract<PlanAction, { type: 'QueueDispatch' }>
): boolean {
  const { state, applier, now } = ctx
  const key = pairKey(a.rolloutId, a.hostname)
  state.decisions.set(key, 'queue')
  const rec = state.host(a.rolloutId, a.hostname)
  if (rec === undefined) return false
  const admission = admitDispatch(
    {
      record: rec,
      heartbeat: state.heartbeats.get(a.hostname),
      queued: state.dispatch.get(a.hostname)?.has(a.rolloutId) === true,
      deliveredAt: state.delivered.get(key),
      now,
    },
    ctx.admission
  )
  switch (admission.type) {
    case 'converge':
      return synthesizeConverged(ctx, rec, admission.at)
    case 'wait':
      return false
    case 'hold':
      applier.recordGate(a.rolloutId, a.hostname, admission.gate, admission.reason, now)
      return false
    case 'queue': {
      const policy = policyFor(ctx, a.rolloutId, a.channel, a.waveIndex)
      applier.enqueueDispatch(
        {
          hostname: a.hostname,
          rolloutId: a.rolloutId,
          targetClosure: a.targetClosure,
          // Informational for agents (soak is measured per host from activation, DECISIONS §3.5).
          soakDueAt: now + (policy?.soakMs ?? 0),
          enqueuedAt: now,
          waveIndex: a.waveIndex,
        },
        now
      )
      return false
    }
  }
}

function deferDispatch(
  ctx: MutatorContext,
  a: Extract<PlanAction, { type: 'DeferDispatch' }>
): boolean {
  const { state } = ctx
  state.decisions.set(pairKey(a.rolloutId, a.hostname), a.gate)
  const rec = state.host(a.rolloutId, a.hostname)
  const hb = state.heartbeats.get(a.hostname)
  if (rec !== undefined && hb !== undefined && convergesDespite(a.gate, rec, hb))
    return synthesizeConverged(ctx, rec, hb.at)
  ctx.applier.recordGate(a.rolloutId, a.hostname, a.gate, a.reason, ctx.now)
  return false
}

/** `PlanTick`: one planning round now. */
export function planTick(ctx: MutatorContext, _input: InputOf<'PlanTick'>): void {
  runPlan(ctx)
}
