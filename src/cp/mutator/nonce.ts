/**
 * `UseNonce`: enrolment records a bootstrap nonce as used.
 * Invariants: a nonce is fresh for exactly one caller — the mutator's set of used nonces
 * (`CpState.usedNonces`, the `token_replay` rows) decides, one input at a time, so two parallel
 * uses of one token get one `true`; it is remembered at least until its token expires (core's
 * `usedNonceKeptUntil`), so a long-lived token is single-use for its whole life.
 */
import { usedNonceKeptUntil } from '../../core/index.ts'
import type { MutatorContext } from './context.ts'
import type { InputOf, ReplyOf } from './inputs.ts'

/** Records a bootstrap nonce as used; whether it was fresh. */
export function useNonce(ctx: MutatorContext, input: InputOf<'UseNonce'>): ReplyOf<'UseNonce'> {
  if (ctx.state.usedNonces.has(input.nonce)) return false
  const keepUntil = usedNonceKeptUntil(input.expiresAt, ctx.now, ctx.options.nonceRetentionMs)
  ctx.store.security.insertNonce(input.nonce, input.hostname, ctx.now, keepUntil)
  ctx.state.usedNonces.set(input.nonce, { nonce: input.nonce, firstSeen: ctx.now, keepUntil })
  return true
}
