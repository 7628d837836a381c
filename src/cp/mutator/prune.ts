/**
 * `Prune`: retention. Forgets used bootstrap nonces past their retention and retires rollouts
 * core's `retentionDue` says were finished long enough (→ Pruned), deleting their host records.
 * It also forgets, in memory only, the settled records of rollouts closed more than
 * `RETIRED_KEPT_MS` ago: late events and heartbeats name recent rollouts, and keeping every closed
 * rollout's records for the whole retention would grow memory by a fleet's worth per release.
 * Invariant: a rollout's host records are deleted only when its retirement step succeeded.
 */
import { closedAt, retentionDue } from '../../core/index.ts'
import { nonceExpired } from '../../db/store.ts'
import type { MutatorContext } from './context.ts'
import type { InputOf, ReplyOf } from './inputs.ts'
import { stepRolloutEvent } from './rollout-steps.ts'

/**
 * How long the settled records of a closed rollout stay in memory: an agent's late event or a
 * heartbeat naming the rollout finds them for a week; later ones are answered as for a rollout
 * without a record (the rows stay in the database until the rollout is pruned).
 */
export const RETIRED_KEPT_MS = 7 * 86_400_000

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
  const retiredBefore = now - RETIRED_KEPT_MS
  for (const rolloutId of Object.keys(state.retired)) {
    const r = state.rollouts.get(rolloutId)?.record
    const at = r === undefined ? null : closedAt(r)
    if (at !== null && at < retiredBefore) delete state.retired[rolloutId]
  }
  if (nonces > 0 || rollouts > 0) ctx.log.info('pruned', { nonces, rollouts })
  return { nonces, rollouts }
}
