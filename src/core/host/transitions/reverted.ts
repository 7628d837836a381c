/**
 * `Reverted` is absorbing: the host is back on its prior closure and the target is quarantined
 * on the channel. Every event is `IllegalForState`.
 */
import type { HostEvent } from '../events.ts'
import type { HostRolloutState } from '../state.ts'
import { illegal, type HostStepResult } from './shared.ts'

/** The step for a record in `Reverted`. */
export function fromReverted(state: HostRolloutState, event: HostEvent): HostStepResult {
  return illegal(state, event)
}
