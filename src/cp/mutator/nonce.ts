/**
 * `UseNonce`: enrolment records a bootstrap nonce as used.
 * Invariants: a nonce is fresh for exactly one caller — the primary key decides, so two parallel
 * uses of one token get one `true`; it is remembered at least until its token expires (core's
 * `usedNonceKeptUntil`), so a long-lived token is single-use for its whole life.
 */
import { usedNonceKeptUntil } from '../../core/index.ts'
import type { MutatorContext } from './context.ts'
import type { InputOf, ReplyOf } from './inputs.ts'

/** Records a bootstrap nonce as used; whether it was fresh. */
export function useNonce(ctx: MutatorContext, input: InputOf<'UseNonce'>): ReplyOf<'UseNonce'> {
  const keepUntil = usedNonceKeptUntil(input.expiresAt, ctx.now, ctx.options.nonceRetentionMs)
  return ctx.store.security.insertNonce(input.nonce, input.hostname, ctx.now, keepUntil)
}
