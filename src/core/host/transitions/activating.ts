/**
 * Transitions out of `Activating`: the switch started (no phase change), completed (→ Soaking),
 * was deferred to the next reboot (→ Deferred) or failed (→ Failed).
 */
import type { HostEvent } from '../events.ts'
import type { HostRolloutState } from '../state.ts'
import { activationCompleted, activationFailed } from './activation-outcome.ts'
import { illegal, moved, ok, report, type HostStepResult, type StepContext } from './shared.ts'

/** The step for a record in `Activating`. */
export function fromActivating(
  state: HostRolloutState,
  event: HostEvent,
  ctx: StepContext
): HostStepResult {
  switch (event.type) {
    case 'LocalActivationStarted':
    case 'RemoteActivationStarted':
      return ok({ ...state, activationStartedAt: event.startedAt }, event, [
        report(state, event, true),
      ])
    case 'LocalActivationCompleted':
    case 'RemoteActivationCompleted':
      return activationCompleted(state, event, ctx)
    case 'LocalActivationDeferred':
    case 'RemoteActivationDeferred':
      return ok(
        { ...state, phase: 'Deferred' },
        event,
        moved(state, event, 'Deferred', event.deferredAt)
      )
    case 'LocalActivationFailed':
    case 'RemoteActivationFailed':
      return activationFailed(state, event, ctx)
    default:
      return illegal(state, event)
  }
}
