/**
 * `Prune`: retention. Forgets used bootstrap nonces past their retention and retires rollouts
 * core's `retentionDue` says were finished long enough (→ Pruned), deleting their host records.
 * Invariant: a rollout's host records are deleted only when its retirement step succeeded.
 */
import { retentionDue } from '../../core/index.ts'
import type { MutatorContext } from './context.ts'
import type { InputOf, ReplyOf } from './inputs.ts'
import { stepRolloutEvent } from './rollout-steps.ts'

/** One retention pass. */
export function prune(ctx: MutatorContext, _input: InputOf<'Prune'>): ReplyOf<'Prune'> {
  const { state, store, options, now } = ctx
  const nonces = store.security.pruneNonces(now, now - options.nonceRetentionMs)
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
      for (const host of Object.keys(state.hosts[r.rolloutId] ?? {}))
        state.dropHost(r.rolloutId, host)
      rollouts++
    }
  }
  if (nonces > 0 || rollouts > 0) ctx.log.info('pruned', { nonces, rollouts })
  return { nonces, rollouts }
}
