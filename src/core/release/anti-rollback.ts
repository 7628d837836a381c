/**
 * Anti-rollback (DECISIONS §3.1): CP and agent keep, per artifact kind (and per channel for
 * rollout manifests), a high-water mark of the newest artifact accepted — highest `signedAt`,
 * then `ciCommit`. A validly signed artifact below the mark is a rollback and is refused.
 * Pure: marks are plain values the shell persists.
 */

/** The identity of an accepted artifact for ordering purposes. */
export type HighWaterMark = { readonly signedAtMs: number; readonly ciCommit: string | null }

/** How a candidate compares with the mark: newer (advance), the same artifact, or a rollback. */
export type HighWaterVerdict = 'advance' | 'same' | 'rollback'

/** The key a mark is stored under: the artifact kind, plus the channel for rollout manifests. */
export function highWaterKey(
  kind: 'fleet' | 'revocations' | 'bootstrap-nonces' | 'rollout-manifest',
  channel?: string
): string {
  return kind === 'rollout-manifest' ? `rollout-manifest:${channel ?? ''}` : kind
}

/** Compares a candidate artifact with the stored mark (no mark ⇒ advance). */
export function compareHighWater(
  candidate: HighWaterMark,
  mark: HighWaterMark | undefined
): HighWaterVerdict {
  if (!mark) return 'advance'
  if (candidate.signedAtMs > mark.signedAtMs) return 'advance'
  if (candidate.signedAtMs < mark.signedAtMs) return 'rollback'
  const a = candidate.ciCommit ?? ''
  const b = mark.ciCommit ?? ''
  if (a === b) return 'same'
  // Two releases stamped in the same millisecond: order by commit so every consumer agrees.
  return a > b ? 'advance' : 'rollback'
}

/**
 * Two records of the marks merged key by key, keeping the higher of each: the database's and
 * the durable file beside it, so losing either cannot lower a mark. On a tie the first wins.
 */
export function mergeHighWater<M extends HighWaterMark & { readonly key: string }>(
  first: readonly M[],
  second: readonly M[]
): M[] {
  const out = new Map<string, M>()
  for (const m of [...first, ...second]) {
    const had = out.get(m.key)
    if (had === undefined || compareHighWater(m, had) === 'advance') out.set(m.key, m)
  }
  return [...out.values()]
}
