/**
 * `Converged` is absorbing: the record is history, and a new rollout creates a new record.
 * Every event is `IllegalForState`.
 */
import type { HostEvent } from '../events.ts'
import type { HostRolloutState } from '../state.ts'
import { illegal, type HostStepResult } from './shared.ts'

/** The step for a record in `Converged`. */
export function fromConverged(state: HostRolloutState, event: HostEvent): HostStepResult {
  return illegal(state, event)
}
