/**
 * The `ReplayFrom` input: the CP lost events it had acknowledged (`X-Nixfleet-Replay-From: N`),
 * so the delivered events of a known rollout above N go back to the outbox.
 */
import type { Handler } from './context.ts'

/** Handles a replay request. */
export const onReplayFrom: Handler<'ReplayFrom'> = (ctx, { rolloutId, after }) =>
  ctx.record(rolloutId) ? ctx.applier.replay(rolloutId, after) : 0
