/**
 * The agent's periodic verdict (reference advance tick, every 5 s): for a Soaking record it
 * decides whether to synthesize `LocalSustainedFailureCrossed` or `LocalConvergedReached`.
 *
 * Invariants:
 * - Failure is checked first: a host with a sustained enforce failure never converges.
 * - A synthesized convergence satisfies `step`'s guard by construction (same `health.ts` rules,
 *   evaluated at `now`), so feeding it back through `step` succeeds.
 * - The event carries `seq = lastEventSeq + 1`, as the agent's single mutator assigns it.
 */
import type { HostEventOf } from './events.ts'
import { convergenceViolations, sustainedFailure } from './health.ts'
import type { HostPolicy, HostRolloutState } from './state.ts'

/** The event the tick synthesizes, if any. */
export type TickVerdict = HostEventOf<'LocalSustainedFailureCrossed' | 'LocalConvergedReached'>

/** The verdict for `state` at `now` under `policy`, or `undefined` when nothing is due. */
export function tickVerdict(
  state: HostRolloutState,
  now: number,
  policy: HostPolicy
): TickVerdict | undefined {
  if (state.phase !== 'Soaking') return undefined
  const seq = state.lastEventSeq + 1
  const failure = sustainedFailure(state, now, policy)
  if (failure !== undefined) {
    return {
      type: 'LocalSustainedFailureCrossed',
      seq,
      failedAt: now,
      sustainedDurationSecs: Math.floor(failure.sustainedMs / 1000),
      failingProbes: failure.failingProbes,
      policyApplied: policy.onHealthFailure,
    }
  }
  const current = state.currentClosure
  if (current === null) return undefined
  if (convergenceViolations(state, now, current).length > 0) return undefined
  return { type: 'LocalConvergedReached', seq, convergedAt: now, currentClosure: current }
}
