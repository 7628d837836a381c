/**
 * Disruption-budget arithmetic (DECISIONS §3.10: `maxInFlightPct` is honoured).
 * Invariants:
 * - The limit is the smaller of `maxInFlight` and `ceil(maxInFlightPct × hosts / 100)`, the
 *   latter at least 1 so a percentage never freezes a small budget; neither set ⇒ unlimited.
 * - In flight means Activating or Soaking (Pending is queued, Deferred waits for a reboot,
 *   the rest is finished), counted once per hostname across every rollout carrying a budget
 *   with an equal selector.
 */
import type { DisruptionBudget } from '../types.ts'

export { isInFlight } from '../host/phases.ts'

/** The in-flight cap of a budget, or `undefined` when it sets none. */
export function budgetLimit(budget: DisruptionBudget): number | undefined {
  let limit: number | undefined
  if (budget.maxInFlight != null) limit = budget.maxInFlight
  if (budget.maxInFlightPct != null) {
    const pct = Math.max(1, Math.ceil((budget.maxInFlightPct * budget.hosts.length) / 100))
    limit = limit === undefined ? pct : Math.min(limit, pct)
  }
  return limit
}
