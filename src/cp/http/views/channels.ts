/**
 * The channel views (spec protocol.md §6.2): `/v1/channels` and `/v1/channels/:name` (the
 * adopted fleet's channels, each with its manifest, rollout, gate sentences and freshness:
 * `freshUntil`, `resignBefore`, `stale`) and `/v1/deferrals` (channels held by a channel edge,
 * hosts held by a gate). Pure: functions of the state snapshot and the time the route passes.
 * Invariant: `stale` is the planner's freshness gate's verdict (core `manifestFreshness`).
 */
import { deferredCountsAsDoneOf, isClosed, manifestFreshness } from '../../../core/index.ts'
import { highWaterKey } from '../../../core/release/anti-rollback.ts'
import { channelFreshnessWindowSecs } from '../../../core/release/freshness.ts'
import { toRfc3339 } from '../../../proto/common.ts'
import type { AdoptedRelease, CpState } from '../../state.ts'
import { found, lastErrorView, missing, type ViewResult } from './common.ts'

/** One channel as `/v1/channels` lists it and `/v1/channels/:name` answers. */
function channelRow(
  state: CpState,
  release: AdoptedRelease,
  name: string,
  now: number
): Record<string, unknown> {
  const fleet = release.fleet.value
  const channel = fleet.channels[name as never]!
  const manifest = release.manifests[name]
  const status = state.status.get(highWaterKey('rollout-manifest', name))
  const rollout = manifest === undefined ? undefined : state.rollouts.get(manifest.rolloutId)
  // A channel without a manifest (no host built) ages with the fleet it was signed in.
  const signedAtMs = manifest?.signedAtMs ?? release.fleet.signedAtMs
  const f = manifestFreshness({
    signedAtMs,
    windowSecs: channelFreshnessWindowSecs(channel, state.freshnessWindowSecs),
    signingIntervalMinutes: channel.signingIntervalMinutes,
    now,
  })
  const gates = new Set<string>()
  if (manifest !== undefined) {
    for (const [key, g] of state.gateBlocks)
      if (key.startsWith(`${manifest.rolloutId}\u0000`)) gates.add(g.reason)
  }
  return {
    name,
    declaredCiCommit: fleet.meta.ciCommit,
    rolloutId: manifest?.rolloutId ?? null,
    rolloutState: rollout?.record.phase ?? null,
    signedAt: toRfc3339(signedAtMs),
    freshnessWindowMinutes: channel.freshnessWindow,
    signingIntervalMinutes: channel.signingIntervalMinutes,
    freshUntil: toRfc3339(f.freshUntil),
    resignBefore: toRfc3339(f.resignBefore),
    stale: f.stale,
    gates: [...gates].sort(),
    edges: fleet.channelEdges
      .filter((e) => e.gated === name)
      .map((e) => ({ gatedBy: e.gates, reason: e.reason ?? null })),
    manifest: {
      adopted: manifest !== undefined,
      sha256: manifest?.sha256 ?? null,
      signedAt: manifest?.signedAt ?? null,
      lastError: lastErrorView(status?.lastError ?? null),
    },
  }
}

/** The `/v1/channels` body: every channel of the adopted fleet, by name. */
export function channelsView(
  state: CpState,
  now: number
): ViewResult<{ channels: Record<string, unknown>[] }> {
  const release = state.release
  if (release === undefined) return missing(503, 'no verified fleet yet')
  const names = Object.keys(release.fleet.value.channels).sort()
  return found({ channels: names.map((n) => channelRow(state, release, n, now)) })
}

/** The `/v1/channels/:name` body. */
export function channelView(
  state: CpState,
  name: string,
  now: number
): ViewResult<Record<string, unknown>> {
  const release = state.release
  if (release === undefined) return missing(503, 'no verified fleet yet')
  if (!Object.hasOwn(release.fleet.value.channels, name)) return missing(404, 'unknown channel')
  return found(channelRow(state, release, name, now))
}

/** The `/v1/deferrals` body. */
export function deferralsView(
  state: CpState,
  now: number
): {
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
        if (predRollout?.record.halt === null && doneWithDeferred(state, pred, now)) continue
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

/**
 * Whether an open predecessor lets its successors go as the planner's channel-edges gate does:
 * its policy counts a Deferred host as done (`healthGate.deferredCountsAsDone`) and every host of
 * it is Deferred, or Converged with its soak over on the CP's clock.
 */
function doneWithDeferred(
  state: CpState,
  pred: AdoptedRelease['manifests'][string],
  now: number
): boolean {
  const m = pred.value
  if (!deferredCountsAsDoneOf(m.healthGate) || m.hostSet.length === 0) return false
  return m.hostSet.every((e) => {
    const phase = state.host(pred.rolloutId, e.hostname)?.phase
    const soakEnd = state.soakEndsAt[pred.rolloutId]?.[e.hostname]
    return (
      phase === 'Deferred' || (phase === 'Converged' && (soakEnd === undefined || soakEnd <= now))
    )
  })
}
