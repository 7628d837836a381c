/**
 * Gate 2, `freshness` (DECISIONS §3.2): no dispatch from a manifest past its channel's signed
 * freshness window, since every agent would refuse it as Stale. The rollout stays open and
 * continues, without re-dispatching converged hosts, once CI re-signs the same content (same
 * rollout id, new `signedAt`).
 */
import { manifestFreshness, staleManifestSentence } from '../../release/freshness.ts'
import type { Gate } from '../context.ts'

/** The stale-manifest gate. */
export const freshnessGate: Gate = (ctx, plan) => {
  const stamp = ctx.manifests.signed?.[plan.channel]
  if (stamp === undefined) return undefined
  const f = manifestFreshness({ ...stamp, now: ctx.now })
  if (!f.stale) return undefined
  return { gate: 'freshness', reason: staleManifestSentence(plan.channel, f) }
}
