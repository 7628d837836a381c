/**
 * `ClosureChecked`: the availability worker's finding about one target closure, kept in the
 * closure book. A change of status re-plans (a closure pushed releases the hosts it held; one
 * found missing holds them) and is logged once: a closure missing at warn, found again at info.
 */
import { cacheBase } from '../../runtime/binary-cache.ts'
import type { MutatorContext } from './context.ts'
import type { InputOf } from './inputs.ts'

/** Records one check of a closure. */
export function closureChecked(ctx: MutatorContext, input: InputOf<'ClosureChecked'>): void {
  const book = ctx.state.closures
  if (book.cache === undefined) return
  const before = book.seen.get(input.closure)
  const status = input.check.status
  const message = input.check.status === 'error' ? input.check.message : null
  const since = before?.status === status ? before.since : input.at
  book.seen.set(input.closure, { status, at: input.at, since, message })
  if (before?.status === status) return
  ctx.markDirty()
  const fields = { closure: input.closure, cache: cacheBase(book.cache) }
  if (status === 'missing')
    ctx.log.warn('closure not in the binary cache; its hosts wait (push it with nix copy)', fields)
  else if (status === 'error')
    ctx.log.warn('binary cache did not answer; hosts are not held for it', {
      ...fields,
      error: message,
    })
  else if (before !== undefined) ctx.log.info('closure now in the binary cache', fields)
}
