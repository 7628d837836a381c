/**
 * Gate 6, `disruption-budget`: every capped budget containing the host must have room. The
 * count is the budget's Activating + Soaking hosts across all rollouts with an equal selector,
 * plus the hosts this pass already queued (the within-tick accumulator), against
 * `maxInFlight` / `maxInFlightPct` (see `budgets.ts`).
 */
import type { Gate } from '../context.ts'

/** The disruption-budget gate. */
export const disruptionBudgetGate: Gate = (ctx, plan, c) => {
  for (const slot of plan.budgetsOf(c.hostname)) {
    const used = ctx.inFlight.get(slot.key)?.size ?? 0
    if (used < slot.limit) continue
    return {
      gate: 'disruption-budget',
      reason: `budget '${slot.summary}' full: ${used}/${slot.limit} in flight`,
    }
  }
  return undefined
}
