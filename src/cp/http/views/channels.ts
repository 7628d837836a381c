/**
 * The channel views (spec protocol.md §6.2): `/v1/channels/:name` (the adopted fleet's channel,
 * its manifest and rollout) and `/v1/deferrals` (channels held by a channel edge, hosts held by a
 * gate). Pure: functions of the state snapshot.
 */
import { isClosed } from '../../../core/index.ts'
import { highWaterKey } from '../../../core/release/anti-rollback.ts'
import { toRfc3339 } from '../../../proto/common.ts'
import type { CpState } from '../../state.ts'
import { found, lastErrorView, missing, type ViewResult } from './common.ts'

/** The `/v1/channels/:name` body. */
export function channelView(state: CpState, name: string): ViewResult<Record<string, unknown>> {
  const release = state.release
  if (release === undefined) return missing(503, 'no verified fleet yet')
  const fleet = release.fleet.value
  const channel = Object.hasOwn(fleet.channels, name) ? fleet.channels[name as never] : undefined
  if (channel === undefined) return missing(404, 'unknown channel')
  const manifest = release.manifests[name]
  const status = state.status.get(highWaterKey('rollout-manifest', name))
  const rollout = manifest === undefined ? undefined : state.rollouts.get(manifest.rolloutId)
  return found({
    name,
    declared_ci_commit: fleet.meta.ciCommit,
    signed_at: fleet.meta.signedAt,
    freshness_window_minutes: channel.freshnessWindow,
    rollout_id: manifest?.rolloutId ?? null,
    rollout_state: rollout?.record.phase ?? null,
    manifest: {
      adopted: manifest !== undefined,
      sha256: manifest?.sha256 ?? null,
      signed_at: manifest?.signedAt ?? null,
      last_error: lastErrorView(status?.lastError ?? null),
    },
  })
}

/** The `/v1/deferrals` body. */
export function deferralsView(state: CpState): {
  deferrals: { channel: string; targetRef: string; blockedBy: string; reason: string }[]
  hostDeferrals: {
    rolloutId: string
    hostname: string
    gate: string
    reason: string
    since: string
  }[]
} {
  const release = state.release
  const deferrals: { channel: string; targetRef: string; blockedBy: string; reason: string }[] = []
  const hostDeferrals: {
    rolloutId: string
    hostname: string
    gate: string
    reason: string
    since: string
  }[] = []
  if (release !== undefined) {
    for (const channel of Object.keys(release.manifests).sort()) {
      const m = release.manifests[channel]!
      for (const edge of release.fleet.value.channelEdges.filter((e) => e.gated === channel)) {
        const pred = release.manifests[edge.gates]
        if (pred === undefined) continue
        const predRollout = state.rollouts.get(pred.rolloutId)
        if (predRollout !== undefined && isClosed(predRollout.record.phase)) continue
        deferrals.push({
          channel,
          targetRef: m.value.channelRef,
          blockedBy: edge.gates,
          reason: `channel '${edge.gates}' rollout ${pred.rolloutId} ${predRollout === undefined ? 'not opened yet' : `${predRollout.record.phase}, not yet converged`}${edge.reason ? ` (${edge.reason})` : ''}`,
        })
      }
    }
  }
  for (const [key, g] of state.gateBlocks) {
    const [rolloutId, hostname] = key.split('\u0000') as [string, string]
    hostDeferrals.push({
      rolloutId,
      hostname,
      gate: g.gate,
      reason: g.reason,
      since: toRfc3339(g.since),
    })
  }
  hostDeferrals.sort((a, b) => (a.rolloutId + a.hostname < b.rolloutId + b.hostname ? -1 : 1))
  return { deferrals, hostDeferrals }
}
