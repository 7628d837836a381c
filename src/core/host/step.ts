/**
 * The per-host rollout reducer: `step(state, event, now, policy)`, the single entry point that
 * both the agent (Local* events) and the CP mirror (Remote* events) call.
 *
 * Invariants (do not change without a design update):
 * - Pure and total: no clock, no I/O, no randomness, never throws for a domain error; the same
 *   inputs always give the same result.
 * - `now` is accepted for signature parity with the planner and the reference but no transition
 *   reads it: times come from the event, so both sides compute identical records.
 * - On error the caller keeps its previous state (the input is never mutated).
 */
import type { HostEvent } from './events.ts'
import type { HostPolicy, HostRolloutState } from './state.ts'
import { transition } from './transitions/index.ts'
import type { HostStepResult } from './transitions/shared.ts'

export type { HostStepResult } from './transitions/shared.ts'

/** The host reducer: applies `event` to `state` under `policy`. */
export function step(
  state: HostRolloutState,
  event: HostEvent,
  now: number,
  policy: HostPolicy
): HostStepResult {
  return transition(state, event, { now, policy })
}
