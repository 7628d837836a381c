/**
 * The rollout events (spec §2.2): facts the CP derives from host transitions, the planner and
 * operators. `SuccessorOpened` is addressed to the predecessor; `OperatorClearance` is the
 * operator's resume of a halted rollout (DECISIONS §3.13), `OperatorCancelled` an operator's
 * cancellation of an open one.
 */
import type { HostPhase } from '../host/state.ts'
import type { HostFailure } from './state.ts'

/** The rollout events. */
export type RolloutEvent =
  | {
      readonly type: 'RolloutOpened'
      readonly rolloutId: string
      readonly channel: string
      readonly targetRef: string
      readonly at: number
    }
  | {
      readonly type: 'HostJoined'
      readonly rolloutId: string
      readonly hostname: string
      readonly wave: number
      readonly at: number
    }
  | {
      readonly type: 'HostStateChanged'
      readonly rolloutId: string
      readonly hostname: string
      readonly from: HostPhase
      readonly to: HostPhase
      readonly at: number
      /** What failed, when `to` is Failed or Reverted (recorded in the halt). */
      readonly failure?: HostFailure
    }
  | {
      readonly type: 'WaveAdvanced'
      readonly rolloutId: string
      readonly fromWave: number
      readonly toWave: number
      readonly at: number
    }
  | { readonly type: 'RolloutTerminal'; readonly rolloutId: string; readonly at: number }
  | {
      readonly type: 'SuccessorOpened'
      readonly supersededRolloutId: string
      readonly successorRolloutId: string
      readonly at: number
    }
  | { readonly type: 'RetentionExpired'; readonly rolloutId: string; readonly at: number }
  | {
      readonly type: 'OperatorClearance'
      readonly rolloutId: string
      readonly operator: string
      readonly reason: string
      readonly at: number
    }
  | {
      readonly type: 'OperatorCancelled'
      readonly rolloutId: string
      readonly operator: string
      readonly reason: string
      readonly at: number
    }

/** The rollout event type tags. */
export type RolloutEventType = RolloutEvent['type']

/** The rollout event type tags in table order. */
export const ROLLOUT_EVENT_TYPES: readonly RolloutEventType[] = [
  'RolloutOpened',
  'HostJoined',
  'HostStateChanged',
  'WaveAdvanced',
  'RolloutTerminal',
  'SuccessorOpened',
  'RetentionExpired',
  'OperatorClearance',
  'OperatorCancelled',
]

/** The rollout an event is addressed to. */
export function targetRolloutId(event: RolloutEvent): string {
  return event.type === 'SuccessorOpened' ? event.supersededRolloutId : event.rolloutId
}
