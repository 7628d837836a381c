/**
 * Transitions out of `Failed`: only a completed rollback (→ Reverted). On the CP the closure the
 * host rolled back *from* (the rollout target) is quarantined on the host's channel.
 */
import type { HostEvent } from '../events.ts'
import type { HostRolloutState } from '../state.ts'
import { illegal, moved, ok, type HostStepResult } from './shared.ts'

/** The step for a record in `Failed`. */
export function fromFailed(state: HostRolloutState, event: HostEvent): HostStepResult {
  switch (event.type) {
    case 'LocalRollbackCompleted':
    case 'RemoteRollbackComplete': {
      const next: HostRolloutState = {
        ...state,
        phase: 'Reverted',
        revertedAt: event.completedAt,
        revertedTo: event.revertedToClosure,
        currentClosure: event.revertedToClosure,
      }
      const quarantine = {
        type: 'RemoteInsertQuarantine',
        channel: state.channel,
        closure: state.targetClosure,
      } as const
      return ok(
        next,
        event,
        moved(state, event, 'Reverted', event.completedAt, { remoteMiddle: [quarantine] })
      )
    }
    default:
      return illegal(state, event)
  }
}
