/**
 * The plan cadence: a `PlanTick` every `planIntervalMs`, so what time alone changes (soak and
 * wave-promotion delays, the end of the startup hold) is planned even when nothing else happens.
 * The plan pass after a state change is the mutator's own (debounced).
 */
import type { CpMutator } from '../mutator/loop.ts'
import { every, type Worker } from './every.ts'

/** Starts the plan cadence. */
export function startPlanTick(mutator: CpMutator, everyMs: number): Worker {
  return every(everyMs, () => mutator.submit({ type: 'PlanTick' }))
}
