/**
 * `UseNonce`: enrolment records a bootstrap nonce as used.
 * Invariant: a nonce is fresh for exactly one caller — the primary key decides, so two parallel
 * uses of one token get one `true`.
 */
import type { MutatorContext } from './context.ts'
import type { InputOf, ReplyOf } from './inputs.ts'

/** Records a bootstrap nonce as used; whether it was fresh. */
export function useNonce(ctx: MutatorContext, input: InputOf<'UseNonce'>): ReplyOf<'UseNonce'> {
  return ctx.store.security.insertNonce(input.nonce, input.hostname, ctx.now)
}
