/**
 * The planner: `planNext(manifests, fleetState, quarantines, now)` → `PlanAction[]`, pure and
 * deterministic (RFC-0006 §4, spec §3).
 *
 * Algorithm:
 * 1. Channels in name order: a manifest whose rollout id (`{channel}@{channelRef}`) is unknown
 *    gets `OpenRollout` (the CP then supersedes the channel's older rollouts); closed rollouts
 *    (Terminal, Superseded, Pruned) are skipped.
 * 2. Each open rollout advances its wave cursor past every done wave (`AdvanceWave`).
 * 3. Pending, unacknowledged hosts of open rollouts are visited in (wave, hostname, rollout id)
 *    order and run through the gates; the first block wins (`DeferDispatch`), otherwise the host
 *    is queued (`QueueDispatch`) and counted against its budgets for the rest of the pass.
 *
 * Invariants: linear in hosts (plus a sort); never more hosts in flight per budget than its cap;
 * a halted rollout gets no `QueueDispatch`; a host above the (advanced) wave cursor is never
 * queued. `now` is the control plane's clock: it is compared only with CP-side soak ends
 * (`FleetState.soakEndsAt`), never with times an agent reported.
 */
import { isClosed } from '../rollout/state.ts'
import type { ManifestSet, QuarantineSet } from '../types.ts'
import { rolloutIdOf } from '../types.ts'
import { buildBudgetIndex } from './budget-index.ts'
import {
  budgetsByRollout,
  buildPlanContext,
  buildRolloutPlan,
  type Candidate,
  type Gate,
  type PlanContext,
  type RolloutPlan,
} from './context.ts'
import { closureAvailabilityGate } from './gates/closure-availability.ts'
import { channelEdgesGate } from './gates/channel-edges.ts'
import { complianceWaveGate } from './gates/compliance-wave.ts'
import { disruptionBudgetGate } from './gates/disruption-budget.ts'
import { freshnessGate } from './gates/freshness.ts'
import { haltedGate } from './gates/halted.ts'
import { hostEdgesGate } from './gates/host-edges.ts'
import { quarantineGate } from './gates/quarantine.ts'
import { wavePromotionGate } from './gates/wave-promotion.ts'
import type { FleetState, GateBlock, PlanAction } from './types.ts'

/** The gates in evaluation order; the first block wins. */
export const GATES: readonly Gate[] = [
  haltedGate,
  freshnessGate,
  quarantineGate,
  channelEdgesGate,
  wavePromotionGate,
  hostEdgesGate,
  disruptionBudgetGate,
  complianceWaveGate,
  closureAvailabilityGate,
]

function compareCandidates(a: Candidate, b: Candidate): number {
  const wa = a.wave ?? Number.MAX_SAFE_INTEGER
  const wb = b.wave ?? Number.MAX_SAFE_INTEGER
  if (wa !== wb) return wa - wb
  if (a.hostname !== b.hostname) return a.hostname < b.hostname ? -1 : 1
  if (a.rolloutId !== b.rolloutId) return a.rolloutId < b.rolloutId ? -1 : 1
  return 0
}

function firstBlock(ctx: PlanContext, plan: RolloutPlan, c: Candidate): GateBlock | undefined {
  for (const gate of GATES) {
    const block = gate(ctx, plan, c)
    if (block !== undefined) return block
  }
  return undefined
}

/** The planner: the actions that move the fleet toward its manifests. */
export function planNext(
  manifests: ManifestSet,
  fleetState: FleetState,
  quarantines: QuarantineSet,
  now: number
): PlanAction[] {
  const actions: PlanAction[] = []
  const plans: RolloutPlan[] = []
  const budgets = buildBudgetIndex(budgetsByRollout(manifests, fleetState), fleetState.hosts)
  for (const channel of Object.keys(manifests.rollouts).sort()) {
    const manifest = manifests.rollouts[channel]
    if (manifest === undefined) continue
    const rolloutId = rolloutIdOf(channel, manifest.channelRef)
    const rollout = fleetState.rollouts[rolloutId]
    if (rollout === undefined) {
      actions.push({ type: 'OpenRollout', rolloutId, channel, targetRef: manifest.channelRef })
      continue
    }
    if (isClosed(rollout.phase)) continue
    plans.push(buildRolloutPlan(manifests, fleetState, manifest, rollout, budgets, now))
  }

  for (const plan of plans) {
    if (plan.currentWave > plan.rollout.currentWave) {
      actions.push({
        type: 'AdvanceWave',
        rolloutId: plan.rolloutId,
        fromWave: plan.rollout.currentWave,
        toWave: plan.currentWave,
      })
    }
  }

  const ctx = buildPlanContext(manifests, fleetState, quarantines, budgets, now)
  const planOf = new Map(plans.map((p) => [p.rolloutId, p]))
  const candidates = plans.flatMap((p) => p.candidates).sort(compareCandidates)
  for (const c of candidates) {
    const plan = planOf.get(c.rolloutId)
    if (plan === undefined) continue
    const block = firstBlock(ctx, plan, c)
    if (block !== undefined) {
      actions.push({
        type: 'DeferDispatch',
        rolloutId: c.rolloutId,
        hostname: c.hostname,
        gate: block.gate,
        reason: block.reason,
      })
      continue
    }
    actions.push({
      type: 'QueueDispatch',
      rolloutId: c.rolloutId,
      hostname: c.hostname,
      channel: c.channel,
      targetClosure: c.targetClosure,
      waveIndex: c.waveIndex,
    })
    for (const slot of plan.budgetsOf(c.hostname)) {
      budgets.inFlight.get(slot.key)?.add(c.hostname)
    }
  }
  return actions
}
