/**
 * Artifact adoption (DECISIONS §3.1): whether a verified signed artifact — fleet, rollout
 * manifest, revocations or bootstrap nonces — may replace what the CP adopted under the same
 * high-water key, and why not. The shell verifies signatures first and persists what this
 * accepts; this decides only the ordering.
 * Invariants: an artifact older than the mark is refused (a rollback); the same (signedAt,
 * ciCommit) is accepted only with the same bytes (sha256), and then does not move the mark.
 */
import { formatRfc3339 } from '../lib/rfc3339.ts'
import { compareHighWater, type HighWaterMark } from './anti-rollback.ts'

/** A verified artifact as adoption compares it. */
export type AdoptionCandidate = HighWaterMark & {
  readonly sha256: string
  /** The artifact's own `signedAt` text, quoted in refusals. */
  readonly signedAt: string
}

/** The mark stored for a key: the newest artifact adopted under it. */
export type AdoptedMark = HighWaterMark & { readonly sha256: string }

/** Accept (moving the mark or not), or refuse as a rollback with the reason. */
export type AdoptionVerdict =
  | { readonly ok: true; readonly advance: boolean }
  | { readonly ok: false; readonly kind: 'Rollback'; readonly message: string }

/** The adoption verdict for `candidate` against the key's current mark (none ⇒ accept). */
export function adoptionVerdict(
  candidate: AdoptionCandidate,
  mark: AdoptedMark | undefined
): AdoptionVerdict {
  const verdict = compareHighWater(candidate, mark)
  if (verdict === 'advance' || mark === undefined) return { ok: true, advance: true }
  if (verdict === 'same') {
    if (mark.sha256 === candidate.sha256) return { ok: true, advance: false }
    return {
      ok: false,
      kind: 'Rollback',
      message: 'same signedAt and ciCommit as the adopted artifact but different bytes',
    }
  }
  return {
    ok: false,
    kind: 'Rollback',
    message: `signed ${candidate.signedAt} (ciCommit ${candidate.ciCommit ?? 'null'}), older than the adopted ${formatRfc3339(mark.signedAtMs)} (ciCommit ${mark.ciCommit ?? 'null'})`,
  }
}
