/**
 * Gate 5, `host-edge`: a host gated by another host of the same channel waits until that host's
 * record in this rollout is Converged (a missing record blocks); a Converged host still soaking
 * on the control plane's clock blocks too. A Deferred host (not running its target until it
 * reboots) blocks unless the policy sets `healthGate.deferredCountsAsDone`. Edges whose gating
 * host is on another channel are out of scope (cross-rollout edges are a non-goal).
 */
import {
  cpSoakingUntil,
  describeCpSoak,
  describeWaiting,
  isHostDone,
  type Gate,
} from '../context.ts'

/** The host-edges gate. */
export const hostEdgesGate: Gate = (ctx, plan, c) => {
  for (const edge of ctx.hostEdgesByGated.get(c.hostname) ?? ctx.none) {
    if (ctx.manifests.fleet.hosts[edge.gates]?.channel !== plan.channel) continue
    const rec = plan.records[edge.gates]
    if (isHostDone(ctx.fleetState, plan.rolloutId, rec, ctx.now, plan.deferredCountsAsDone))
      continue
    const until = cpSoakingUntil(ctx.fleetState, plan.rolloutId, rec, ctx.now)
    const state =
      until !== null ? describeCpSoak(until, ctx.now) : describeWaiting(rec?.phase ?? 'no record')
    const why = edge.reason ? ` (${edge.reason})` : ''
    const problem = ctx.fleetState.hostProblems?.[edge.gates]
    const holder = `${edge.gates} (${state}${problem === undefined ? '' : `; ${problem}`})`
    return { gate: 'host-edge', reason: `host-edge: ${c.hostname} waits for ${holder}${why}` }
  }
  return undefined
}
