/**
 * The closure availability worker: checks that the binary cache holds every target closure of
 * the adopted release (its narinfo, `runtime/binary-cache.ts`) and hands each finding to the
 * mutator (`ClosureChecked`), whose planner holds the hosts of a missing one.
 *
 * Invariants: I/O only here, never in the mutator; at most `concurrency` checks in flight, each
 * bounded by `timeoutMs`; a closure is re-checked once its finding is older than its TTL — a
 * present one rarely (caches keep what they were given), a missing or unanswered one often (CI
 * may push it any moment); a tick that finds nothing due does no I/O.
 */
import { checkNarinfo } from '../../runtime/binary-cache.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { ClosureStatus } from '../../core/index.ts'
import { wantedClosures } from '../closures.ts'
import type { CpMutator } from '../mutator/loop.ts'
import type { CpState } from '../state.ts'
import { every, type Worker } from './every.ts'

/** How the worker paces itself. */
export type ClosureCheckOptions = {
  readonly tickMs: number
  readonly concurrency: number
  readonly timeoutMs: number
  /** How long a finding stands, by status. */
  readonly ttlMs: Readonly<Record<ClosureStatus, number>>
}

/** The defaults: a missing closure is seen within 30 s of its push. */
export const CLOSURE_CHECK_DEFAULTS: ClosureCheckOptions = {
  tickMs: 1000,
  concurrency: 8,
  timeoutMs: 10_000,
  ttlMs: { present: 6 * 3_600_000, missing: 30_000, error: 30_000 },
}

/** Starts checking `cache` (the cache of the state's closure book). */
export function startClosureCheck(
  deps: { readonly state: CpState; readonly mutator: CpMutator; readonly clock: Clock },
  cache: string,
  opts: ClosureCheckOptions = CLOSURE_CHECK_DEFAULTS
): Worker {
  const { state, mutator, clock } = deps
  const inFlight = new Set<string>()
  const tick = (): void => {
    const now = clock.now()
    for (const closure of wantedClosures(state)) {
      if (inFlight.size >= opts.concurrency) return
      if (inFlight.has(closure)) continue
      const seen = state.closures.seen.get(closure)
      if (seen !== undefined && now - seen.at < opts.ttlMs[seen.status]) continue
      inFlight.add(closure)
      void checkNarinfo(cache, closure, opts.timeoutMs).then((check) => {
        inFlight.delete(closure)
        mutator.submit({ type: 'ClosureChecked', closure, check, at: clock.now() })
      })
    }
  }
  tick()
  return every(opts.tickMs, tick)
}
