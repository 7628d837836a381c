/**
 * Stepping rollout records: the one place the mutator calls core's `stepRollout`, and the
 * `rollout_event` payload codec (the canonical log core's `rederiveRollouts` rebuilds from).
 * Invariants: a `rollout_event` row is written only when the step changed the record or had
 * effects, in the same transaction as the record and its effects; a rollout that closes loses
 * its queued dispatches and its settled in-memory records.
 */
import { isClosed, stepRollout, targetRolloutId, type RolloutEvent } from '../../core/index.ts'
import { parseRfc3339Ms, toRfc3339 } from '../../proto/common.ts'
import type { MutatorContext } from './context.ts'

/** Steps a rollout; writes a `rollout_event` row only when the step changed something. */
export function stepRolloutEvent(ctx: MutatorContext, event: RolloutEvent): string | undefined {
  const { state, store, applier, now } = ctx
  const id = targetRolloutId(event)
  const live = state.rollouts.get(id)
  if (live === undefined) return `unknown rollout ${id}`
  const r = stepRollout(live.record, event, now)
  if (!r.ok) {
    ctx.log.warn('rollout event refused', { rolloutId: id, event: event.type, error: r.error.type })
    return r.error.type === 'IllegalForState'
      ? `${event.type} is not legal for rollout ${id} in state ${r.error.from}`
      : r.error.reason
  }
  if (r.record === live.record && r.effects.length === 0) return undefined
  const seq = applier.append('rollout_event', now, rolloutEventPayload(event), null, id)
  live.record = r.record
  store.rollouts.update(r.record, seq)
  applier.applyRolloutEffects(r.effects, now, seq)
  if (isClosed(r.record.phase)) {
    applier.deleteDispatchesOf(id)
    state.evictSettled(id)
  }
  ctx.markDirty()
  return undefined
}

/** The `rollout_event` payload of a rollout event (times as RFC 3339). */
export function rolloutEventPayload(event: RolloutEvent): Record<string, unknown> {
  const { type, at, ...rest } = event
  return { kind: type, ...rest, at: toRfc3339(at) }
}

/** The rollout event of a `rollout_event` payload (the inverse of `rolloutEventPayload`). */
export function rolloutEventOf(payload: Record<string, unknown>): RolloutEvent {
  const { kind, at, ...rest } = payload as { kind: string; at: string }
  return { type: kind, ...rest, at: parseRfc3339Ms(at) } as RolloutEvent
}
