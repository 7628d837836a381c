/**
 * The `Tick` input (every 5 s): the core's tick verdict for the active Soaking record (sustained
 * failure, or convergence), then housekeeping: records other than the active one are forgotten
 * once their events are delivered and no activation of theirs is running.
 */
import { tickVerdict } from '../../core/index.ts'
import type { Handler, MutatorContext } from './context.ts'

/** Handles the advance tick. */
export const onTick: Handler<'Tick'> = (ctx) => {
  const id = ctx.activeRolloutId()
  const host = id === undefined ? undefined : ctx.record(id)
  if (host && host.state.phase === 'Soaking') {
    const verdict = tickVerdict(host.state, ctx.deps.clock.now(), host.policy)
    if (verdict) ctx.apply(host, verdict)
  }
  collectGarbage(ctx)
  ctx.refreshGauges()
}

/** Forgets superseded or finished, fully delivered records other than the active one. */
function collectGarbage(ctx: MutatorContext): void {
  const active = ctx.activeRolloutId()
  for (const h of [...ctx.records()]) {
    const id = h.state.rolloutId
    if (id === active) continue
    if (ctx.deps.outbox.depth(id) > 0 || ctx.deps.activation.current?.rolloutId === id) continue
    ctx.forget(id)
    ctx.deps.log.info('rollout record forgotten', { rolloutId: id, state: h.state.phase })
  }
}
