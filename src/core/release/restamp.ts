/**
 * Which stamp each artifact of a new release gets, given what the release directory already
 * holds. `--reuse-unchanged-signature` keeps an artifact's previous `signedAt` (and so its
 * bytes and signature) only when re-stamping it with that time reproduces the previous bytes
 * exactly; an artifact whose content changed is stamped afresh. A changed artifact whose fresh
 * stamp does not advance past the released one would be refused by every consumer as a
 * rollback, so the release refuses it instead of writing it.
 * Pure: the shell assembles, compares bytes and reads the previous marks.
 */
import { type HighWaterMark, compareHighWater } from './anti-rollback.ts'

/** `reuse`: keep the previous stamp; `fresh`: stamp now; `not-newer`: a change that cannot advance. */
export type RestampVerdict = 'reuse' | 'fresh' | 'not-newer'

/** The stamp one artifact (the fleet with its manifests, revocations, or bootstrap nonces) gets. */
export function chooseRestamp(input: {
  /** `--reuse-unchanged-signature` was given. */
  readonly reuse: boolean
  /** The released artifact's mark, when the release directory holds a readable one. */
  readonly previous: HighWaterMark | undefined
  /** The artifact stamped with the previous `signedAt` is byte-identical to the released one. */
  readonly restampedUnchanged: boolean
  /** The artifact stamped now is byte-identical to the released one (a re-run). */
  readonly freshUnchanged: boolean
  /** The mark the artifact stamped now would carry. */
  readonly fresh: HighWaterMark
}): RestampVerdict {
  if (input.freshUnchanged) return 'fresh'
  if (input.reuse && input.previous && input.restampedUnchanged) return 'reuse'
  if (input.previous && compareHighWater(input.fresh, input.previous) !== 'advance')
    return 'not-newer'
  return 'fresh'
}
