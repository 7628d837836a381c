/**
 * The `Dispatch` input: a verified dispatch opens (or resumes) the rollout's record and steps
 * `LocalActivate`. A dispatch for a record already past Pending is a duplicate and ignored; a
 * dispatch for another rollout supersedes the active one (its probes stop).
 */
import { newPendingHost } from '../../core/index.ts'
import { NEW_META, type StoredHost } from '../host-store.ts'
import type { Handler } from './context.ts'

/** Handles a dispatch. */
export const onDispatch: Handler<'Dispatch'> = (ctx, input) => {
  const a = input.accepted
  const existing = ctx.record(a.rolloutId)
  if (existing && existing.state.phase !== 'Pending') {
    ctx.deps.log.info('duplicate dispatch ignored', {
      rolloutId: a.rolloutId,
      state: existing.state.phase,
    })
    return 'duplicate'
  }
  const previousActive = ctx.activeRolloutId()
  const host: StoredHost = existing ?? {
    state: newPendingHost({
      rolloutId: a.rolloutId,
      hostname: ctx.deps.machineId,
      channel: a.channel,
      targetClosure: a.targetClosure,
      dispatchedAt: input.receivedAt,
    }),
    policy: a.policy,
    waveIndex: a.waveIndex,
    meta: NEW_META,
  }
  if (previousActive !== undefined && previousActive !== a.rolloutId)
    ctx.applier.superseded(previousActive, a.rolloutId)
  ctx.deps.log.info('dispatch accepted', {
    rolloutId: a.rolloutId,
    target: a.targetClosure,
    prior: input.prior ?? null,
  })
  ctx.applyNext(host, {
    type: 'LocalActivate',
    currentClosureAtDispatch: input.prior ?? '',
    receivedAt: input.receivedAt,
    targetClosure: a.targetClosure,
  })
  return 'accepted'
}
