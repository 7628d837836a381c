/**
 * Gate 2, `quarantine`: a closure a host of this channel rolled back from is never dispatched
 * again on the channel (quarantines are append-only; a new closure clears the situation).
 */
import type { Gate } from '../context.ts'

/** The quarantine gate. */
export const quarantineGate: Gate = (ctx, plan, c) => {
  if (ctx.quarantined.get(plan.channel)?.has(c.targetClosure) !== true) return undefined
  return {
    gate: 'quarantine',
    reason:
      `closure ${c.targetClosure} is quarantined on channel '${plan.channel}' ` +
      '(a host rolled back from it); push a new closure to clear',
  }
}
