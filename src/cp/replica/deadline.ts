/**
 * A deadline on a wait that PostgreSQL might never end (a half-open TCP connection answers
 * nothing, and no query times out by itself).
 * Invariant: the timer is cleared whichever settles first, so no timer outlives its wait.
 */
import type { Timers } from '../../runtime/timers.ts'

/** Why a wait ended early. */
export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded'
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`)
  }
}

/** `p`'s outcome, or a rejection with `DeadlineExceeded` once `ms` passed first. */
export async function withDeadline<T>(
  timers: Timers,
  ms: number,
  what: string,
  p: Promise<T>
): Promise<T> {
  const { promise, reject } = Promise.withResolvers<never>()
  const timer = timers.setTimeout(() => reject(new DeadlineExceeded(what, ms)), ms)
  try {
    return await Promise.race([p, promise])
  } finally {
    timer.cancel()
  }
}
