/**
 * The transition dispatcher (STYLE §7.7): the universal sequence-number precheck, then one
 * module per source state.
 * Invariant: `event.seq <= state.lastEventSeq` is `SeqRegression` in every state, checked
 * before legality (equal = retransmit, lower = out of order), so duplicates are recognisable.
 */
import { assertNever } from '../../lib/assert-never.ts'
import type { HostEvent } from '../events.ts'
import type { HostRolloutState } from '../state.ts'
import { fromActivating } from './activating.ts'
import { fromConverged } from './converged.ts'
import { fromDeferred } from './deferred.ts'
import { fromFailed } from './failed.ts'
import { fromPending } from './pending.ts'
import { fromReverted } from './reverted.ts'
import type { HostStepResult, StepContext } from './shared.ts'
import { fromSoaking } from './soaking.ts'

/** The dispatch of one event to the module of the record's current state. */
export function transition(
  state: HostRolloutState,
  event: HostEvent,
  ctx: StepContext
): HostStepResult {
  if (event.seq <= state.lastEventSeq) {
    return {
      ok: false,
      error: {
        type: 'SeqRegression',
        got: event.seq,
        last: state.lastEventSeq,
        rolloutId: state.rolloutId,
        hostname: state.hostname,
      },
    }
  }
  switch (state.phase) {
    case 'Pending':
      return fromPending(state, event)
    case 'Activating':
      return fromActivating(state, event, ctx)
    case 'Deferred':
      return fromDeferred(state, event, ctx)
    case 'Soaking':
      return fromSoaking(state, event)
    case 'Converged':
      return fromConverged(state, event)
    case 'Failed':
      return fromFailed(state, event)
    case 'Reverted':
      return fromReverted(state, event)
    default:
      return assertNever(state.phase, 'host phase')
  }
}
