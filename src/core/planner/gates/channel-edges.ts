/**
 * Gate 3, `channel-edges`: a channel gated on another waits until the predecessor's rollout of
 * its current manifest is Terminal (or Superseded).
 * Rules (spec §3.4): no manifest for the predecessor ⇒ pass; a manifest but no rollout record
 * yet ⇒ block (fresh boot); otherwise block unless the rollout is closed. Failed, Reverted and
 * halted predecessors block: their hosts are not health-verified. A rollout with a Deferred host
 * is not Terminal, so it blocks, unless the predecessor's policy sets
 * `healthGate.deferredCountsAsDone` and every host of it is done by that rule.
 */
import { deferredCountsAsDoneOf } from '../../host/policy.ts'
import { isClosed } from '../../rollout/state.ts'
import type { RolloutManifest } from '../../types.ts'
import { rolloutIdOf } from '../../types.ts'
import { isHostDone, type Gate, type PlanContext } from '../context.ts'

/** The channel-edges gate. */
export const channelEdgesGate: Gate = (ctx, plan) => {
  for (const edge of ctx.channelEdgesByGated.get(plan.channel) ?? ctx.none) {
    const manifest = ctx.manifests.rollouts[edge.gates]
    if (manifest === undefined) continue
    const predecessorId = rolloutIdOf(edge.gates, manifest.channelRef)
    const predecessor = ctx.fleetState.rollouts[predecessorId]
    if (predecessor !== undefined && isClosed(predecessor.phase)) continue
    if (predecessor?.halt === null && doneWithDeferred(ctx, manifest, predecessorId)) continue
    const state =
      predecessor === undefined
        ? 'not opened yet'
        : `${predecessor.phase}${predecessor.halt !== null ? ', halted' : ''}, not yet converged`
    const why = edge.reason ? ` (${edge.reason})` : ''
    const waitsFor = `channel '${edge.gates}' rollout ${predecessorId} ${state}${why}`
    return { gate: 'channel-edges', reason: `channel '${plan.channel}' waits: ${waitsFor}` }
  }
  return undefined
}

/** Whether an open predecessor opted in to Deferred-as-done and every host of it is done. */
function doneWithDeferred(ctx: PlanContext, manifest: RolloutManifest, rolloutId: string): boolean {
  if (!deferredCountsAsDoneOf(manifest.healthGate) || manifest.hostSet.length === 0) return false
  const records = ctx.fleetState.hosts[rolloutId] ?? {}
  return manifest.hostSet.every((e) =>
    isHostDone(ctx.fleetState, rolloutId, records[e.hostname], ctx.now, true)
  )
}
