/**
 * Transitions out of `Deferred` (profile and bootloader set, live switch skipped): the host
 * completes activation after its reboot (→ Soaking) or fails (→ Failed, with the policy applied
 * exactly as from Activating — DECISIONS §3.4; the reference applied none).
 */
import type { HostEvent } from '../events.ts'
import type { HostRolloutState } from '../state.ts'
import { activationCompleted, activationFailed } from './activation-outcome.ts'
import { illegal, type HostStepResult, type StepContext } from './shared.ts'

/** The step for a record in `Deferred`. */
export function fromDeferred(
  state: HostRolloutState,
  event: HostEvent,
  ctx: StepContext
): HostStepResult {
  switch (event.type) {
    case 'LocalActivationCompleted':
    case 'RemoteActivationCompleted':
      return activationCompleted(state, event, ctx)
    case 'LocalActivationFailed':
    case 'RemoteActivationFailed':
      return activationFailed(state, event, ctx)
    default:
      return illegal(state, event)
  }
}
