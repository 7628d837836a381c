/**
 * The `Local` input: a fact a worker observed (switch outcome, probe result) is stepped as the
 * rollout's next event. Events for a rollout the agent no longer knows are dropped.
 */
import type { Handler } from './context.ts'

/** Handles a worker's event. */
export const onLocal: Handler<'Local'> = (ctx, { rolloutId, event }) => {
  const host = ctx.record(rolloutId)
  if (!host) {
    ctx.deps.log.debug('event for an unknown rollout dropped', { rolloutId, event: event.type })
    return false
  }
  return ctx.applyNext(host, event)
}
