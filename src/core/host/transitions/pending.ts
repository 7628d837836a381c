/**
 * Transitions out of `Pending`: the dispatch acknowledgement (agent `LocalActivate`, CP
 * `RemoteDispatchAck`) moves the host to `Activating` and records the rollback target.
 * Invariant: the agent only switches to the record's own target; a dispatch naming another
 * closure is refused (`Invariant`) rather than acted on.
 */
import type { HostEvent } from '../events.ts'
import type { HostRolloutState } from '../state.ts'
import { illegal, invariant, ok, recordTransition, report, type HostStepResult } from './shared.ts'

/** The step for a record in `Pending`. */
export function fromPending(state: HostRolloutState, event: HostEvent): HostStepResult {
  switch (event.type) {
    case 'LocalActivate': {
      if (event.targetClosure !== state.targetClosure) {
        return invariant(state, event, [
          `dispatch target ${event.targetClosure} is not the record's target ${state.targetClosure}`,
        ])
      }
      const next = acked(state, event.currentClosureAtDispatch, event.receivedAt)
      return ok(next, event, [
        recordTransition(state, 'Activating', event.receivedAt),
        report(state, event, true),
        { type: 'LocalFireSwitch', rolloutId: state.rolloutId, target: state.targetClosure },
      ])
    }
    case 'RemoteDispatchAck': {
      const next = acked(state, event.currentClosureAtDispatch, event.receivedAt)
      return ok(next, event, [
        report(state, event, true),
        recordTransition(state, 'Activating', event.receivedAt),
      ])
    }
    default:
      return illegal(state, event)
  }
}

function acked(state: HostRolloutState, prior: string, at: number): HostRolloutState {
  return { ...state, phase: 'Activating', currentClosureAtDispatch: prior, dispatchAckedAt: at }
}
