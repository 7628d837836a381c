/**
 * Gate 1, `halted` (DECISIONS §3.4, "halt means halt"): a halted rollout dispatches nothing, in
 * any wave, until an operator resumes it or a newer release supersedes it.
 */
import type { Gate } from '../context.ts'

/** The halted-rollout gate. */
export const haltedGate: Gate = (_ctx, plan) => {
  const halt = plan.rollout.halt
  if (halt === null) return undefined
  return {
    gate: 'halted',
    reason:
      `rollout ${plan.rolloutId} halted: ${halt.hostname} ${halt.hostPhase}; ` +
      'resume it or release a fix',
  }
}
