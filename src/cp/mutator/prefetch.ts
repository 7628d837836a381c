/**
 * A closure an agent reports realised ahead of time (`prefetched_closure`, `--prefetch`): logged
 * once, recorded in the event log of the rollout whose target it is (an `effect` row
 * `HostPrefetched`, with whether the host had been dispatched yet) and counted, so an operator
 * sees that the fetch happened before the host's wave opened.
 */
import { pairKey } from '../state.ts'
import type { MutatorContext } from './context.ts'

/** Records a newly reported prefetch of `closure` by `host`. */
export function notePrefetch(ctx: MutatorContext, host: string, closure: string): void {
  const { state } = ctx
  const rolloutId = [...(state.byHost.get(host) ?? [])].find(
    (id) => state.host(id, host)?.targetClosure === closure
  )
  const rec = rolloutId === undefined ? undefined : state.host(rolloutId, host)
  const beforeDispatch =
    rec !== undefined &&
    rec.phase === 'Pending' &&
    rec.dispatchAckedAt === null &&
    !state.delivered.has(pairKey(rec.rolloutId, host))
  ctx.metrics.prefetched.inc({ before_dispatch: String(beforeDispatch) })
  ctx.log.info('host prefetched its target closure', {
    host,
    closure,
    rolloutId: rolloutId ?? null,
    beforeDispatch,
  })
  if (rolloutId !== undefined)
    ctx.applier.append(
      'effect',
      ctx.now,
      { effect: 'HostPrefetched', closure, beforeDispatch },
      host,
      rolloutId
    )
}
