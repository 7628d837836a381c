/**
 * `HostEvent`: an agent's event for one of its records, stepped through core's `step`.
 * Invariants: an event for a pair the CP has no record of is refused (409); a seq at or below
 * the record's is an idempotent retransmit (204, nothing written); a refused step is 409 with
 * core's reason and changes nothing.
 */
import { remoteEventOf } from '../../core/index.ts'
import type { MutatorContext } from './context.ts'
import { findRecord, stepHost } from './host-steps.ts'
import type { InputOf, ReplyOf } from './inputs.ts'

/** Applies an agent event. */
export function hostEvent(ctx: MutatorContext, input: InputOf<'HostEvent'>): ReplyOf<'HostEvent'> {
  const { host, rolloutId, event } = input
  const found = findRecord(ctx, rolloutId, host)
  if (found === undefined) {
    return {
      status: 409,
      error: `the control plane has no record of ${host} in rollout ${rolloutId}`,
    }
  }
  // Idempotent retransmit (the route checks too; this covers a race between two posts).
  if (event.seq <= found.state.lastEventSeq) return { status: 204 }
  const error = stepHost(ctx, found.state, found.waveIndex, remoteEventOf(event), false)
  if (error !== undefined) {
    // A host can repeat a refused event at will: one line per interval and reason, counted.
    ctx.refusals(
      'info',
      `${host}\u0000${rolloutId}\u0000${event.kind}\u0000${error}`,
      'agent event refused',
      {
        host,
        rolloutId,
        kind: event.kind,
        seq: event.seq,
        reason: error,
      }
    )
    return { status: 409, error }
  }
  return { status: 204 }
}
