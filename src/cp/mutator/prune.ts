/**
 * `Prune`: retention. Forgets used bootstrap nonces past their retention and retires rollouts
 * core's `retentionDue` says were finished long enough (→ Pruned), deleting their host records.
 * Invariant: a rollout's host records are deleted only when its retirement step succeeded.
 */
import { retentionDue } from '../../core/index.ts'
import { nonceExpired } from '../../db/store.ts'
import type { MutatorContext } from './context.ts'
import type { InputOf, ReplyOf } from './inputs.ts'
import { stepRolloutEvent } from './rollout-steps.ts'

/** One retention pass. */
export function prune(ctx: MutatorContext, _input: InputOf<'Prune'>): ReplyOf<'Prune'> {
  const { state, store, options, now } = ctx
  const legacyBefore = now - options.nonceRetentionMs
  let nonces = 0
  for (const n of [...state.usedNonces.values()]) {
    if (!nonceExpired(n, now, legacyBefore)) continue
    state.usedNonces.delete(n.nonce)
    nonces++
  }
  if (nonces > 0) store.security.pruneNonces(now, legacyBefore)
  const cutoff = now - options.rolloutRetentionMs
  let rollouts = 0
  for (const live of [...state.rollouts.values()]) {
    const r = live.record
    if (!retentionDue(r, cutoff)) continue
    if (
      stepRolloutEvent(ctx, { type: 'RetentionExpired', rolloutId: r.rolloutId, at: now }) ===
      undefined
    ) {
      store.hosts.deleteOfRollout(r.rolloutId)
      store.operator.deleteSkipsOf(r.rolloutId)
      delete state.skipped[r.rolloutId]
      state.forgetRollout(r.rolloutId)
      rollouts++
    }
  }
  if (nonces > 0 || rollouts > 0) ctx.log.info('pruned', { nonces, rollouts })
  return { nonces, rollouts }
}
