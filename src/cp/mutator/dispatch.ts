/**
 * `TakeDispatch`: a long-poll takes a host's oldest queued dispatch.
 * Invariant: a dispatch is handed out once (row deleted, `DispatchDelivered` row written, the
 * delivery time kept so an unacknowledged dispatch is queued again only after its delay).
 */
import type { MutatorContext } from './context.ts'
import type { InputOf, ReplyOf } from './inputs.ts'

/** Takes a host's oldest queued dispatch, if any. */
export function takeDispatch(
  ctx: MutatorContext,
  input: InputOf<'TakeDispatch'>
): ReplyOf<'TakeDispatch'> {
  return ctx.applier.takeDispatch(input.host, ctx.now)
}
