/**
 * Per-channel freshness (DECISIONS §3.2): a channel's signed `freshnessWindow` (minutes) bounds
 * how old its rollout manifest may be, capped by the operator's global window. The reference
 * signs this field but never enforces it. Pure: no clock; callers pass the global window.
 */

/** The channel fields this module reads. */
export type ChannelFreshness = { readonly freshnessWindow?: number | null | undefined }

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
