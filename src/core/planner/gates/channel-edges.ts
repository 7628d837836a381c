/**
 * Gate 3, `channel-edges`: a channel gated on another waits until the predecessor's rollout of
 * its current manifest is Terminal (or Superseded).
 * Rules (spec §3.4): no manifest for the predecessor ⇒ pass; a manifest but no rollout record
 * yet ⇒ block (fresh boot); otherwise block unless the rollout is closed. Failed, Reverted and
 * halted predecessors block: their hosts are not health-verified.
 */
import { isClosed } from '../../rollout/state.ts'
import { rolloutIdOf } from '../../types.ts'
import type { Gate } from '../context.ts'

/** The channel-edges gate. */
export const channelEdgesGate: Gate = (ctx, plan) => {
  for (const edge of ctx.channelEdgesByGated.get(plan.channel) ?? ctx.none) {
    const manifest = ctx.manifests.rollouts[edge.gates]
    if (manifest === undefined) continue
    const predecessorId = rolloutIdOf(edge.gates, manifest.channelRef)
    const predecessor = ctx.fleetState.rollouts[predecessorId]
    if (predecessor !== undefined && isClosed(predecessor.phase)) continue
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
