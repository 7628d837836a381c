/**
 * The retention cadence: a `Prune` every `pruneIntervalMs` (used nonces past their retention,
 * finished rollouts past theirs; the mutator decides what goes).
 */
import type { CpMutator } from '../mutator/loop.ts'
import { every, type Worker } from './every.ts'

/** Starts the retention cadence. */
export function startPrune(mutator: CpMutator, everyMs: number): Worker {
  return every(everyMs, () => mutator.submit({ type: 'Prune' }))
}
