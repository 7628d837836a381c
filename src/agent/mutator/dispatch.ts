/**
 * The `Dispatch` input: a verified dispatch opens (or resumes) the rollout's record and steps
 * `LocalActivate`. A dispatch for a record already past Pending is a duplicate and ignored,
 * except for a host that failed for good (Reverted, or Failed without a rollback): the CP only
 * dispatches such a host again when an operator retried it, so the attempt starts afresh (its
 * seq continuing the old record's, as the CP's retried record does). A dispatch for another
 * rollout supersedes the active one (its probes stop).
 */
import { newPendingHost } from '../../core/index.ts'
import { NEW_META, type StoredHost } from '../host-store.ts'
import type { Handler } from './context.ts'

/** Handles a dispatch. */
export const onDispatch: Handler<'Dispatch'> = (ctx, input) => {
  const a = input.accepted
  const existing = ctx.record(a.rolloutId)
  const s = existing?.state
  const retried =
    s !== undefined &&
    s.targetClosure === a.targetClosure &&
    (s.phase === 'Reverted' || (s.phase === 'Failed' && s.policyApplied !== 'rollback-and-halt'))
  if (existing && existing.state.phase !== 'Pending' && !retried) {
    ctx.deps.log.info('duplicate dispatch ignored', {
      rolloutId: a.rolloutId,
      state: existing.state.phase,
    })
    return 'duplicate'
  }
  const previousActive = ctx.activeRolloutId()
  const host: StoredHost =
    existing !== undefined && !retried
      ? existing
      : {
          state: {
            ...newPendingHost({
              rolloutId: a.rolloutId,
              hostname: ctx.deps.machineId,
              channel: a.channel,
              targetClosure: a.targetClosure,
              dispatchedAt: input.receivedAt,
            }),
            lastEventSeq: s?.lastEventSeq ?? 0,
          },
          policy: a.policy,
          waveIndex: a.waveIndex,
          meta: NEW_META,
        }
  if (retried)
    ctx.deps.log.info('retry dispatch accepted', { rolloutId: a.rolloutId, was: s.phase })
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
