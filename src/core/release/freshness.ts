/**
 * Per-channel freshness (DECISIONS §3.2): a channel's signed `freshnessWindow` (minutes) bounds
 * how old its rollout manifest may be, capped by the operator's global window. The reference
 * signs this field but never enforces it. Pure: no clock; callers pass the global window and
 * the time.
 * Invariants: a manifest is `stale` exactly when `now` is past `freshUntil` (signedAt + window),
 * without the verifiers' clock-skew slack, so the CP stops dispatching no later than any agent
 * stops accepting; `resignBefore` is never after `freshUntil`.
 */
import { formatRfc3339 } from '../lib/rfc3339.ts'

/** The channel fields this module reads. */
export type ChannelFreshness = {
  readonly freshnessWindow?: number | null | undefined
  readonly signingIntervalMinutes?: number | null | undefined
}

/** The freshness window in seconds for `channel`: min(channel window, global window). */
export function channelFreshnessWindowSecs(
  channel: ChannelFreshness | undefined,
  globalWindowSecs: number
): number {
  const minutes = channel?.freshnessWindow
  // 0 or absent means "not declared": the global window alone applies.
  if (!minutes || minutes <= 0) return globalWindowSecs
  return Math.min(minutes * 60, globalWindowSecs)
}

/** A signed manifest's freshness as the CP shows it and gates on it. */
export type ManifestFreshness = {
  readonly signedAtMs: number
  readonly windowSecs: number
  /** The end of the window: after it no agent may act on the manifest. */
  readonly freshUntil: number
  /** When CI's next scheduled re-sign is due (`signingIntervalMinutes` after signing). */
  readonly resignBefore: number
  readonly stale: boolean
}

/** The freshness of a manifest signed at `signedAtMs` under `windowSecs`, at `now`. */
export function manifestFreshness(input: {
  readonly signedAtMs: number
  readonly windowSecs: number
  readonly signingIntervalMinutes?: number | null | undefined
  readonly now: number
}): ManifestFreshness {
  const freshUntil = input.signedAtMs + input.windowSecs * 1000
  const interval = input.signingIntervalMinutes
  const resignBefore =
    interval && interval > 0
      ? Math.min(input.signedAtMs + interval * 60_000, freshUntil)
      : freshUntil
  return {
    signedAtMs: input.signedAtMs,
    windowSecs: input.windowSecs,
    freshUntil,
    resignBefore,
    stale: input.now > freshUntil,
  }
}

/** `HH:MM:SS` (UTC) of a time, as gate sentences give times. */
const clockOf = (ms: number): string => formatRfc3339(ms).slice(11, 19)

/** A window as operators declare it: minutes, or seconds below one minute. */
const windowText = (secs: number): string => (secs % 60 === 0 ? `${secs / 60}m` : `${secs}s`)

/**
 * The sentence an operator reads while a channel's manifest is expired, e.g. `stable waits:
 * manifest expired at 11:45:10 (signed 10:45:10, window 60m); CI must re-sign: nixfleet
 * release --resign`.
 */
export function staleManifestSentence(channel: string, f: ManifestFreshness): string {
  return (
    `${channel} waits: manifest expired at ${clockOf(f.freshUntil)} ` +
    `(signed ${clockOf(f.signedAtMs)}, window ${windowText(f.windowSecs)}); ` +
    'CI must re-sign: nixfleet release --resign'
  )
}
