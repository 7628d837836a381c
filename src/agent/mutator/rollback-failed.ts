/**
 * The `RollbackFailed` input: a rollback did not complete. There is no event for it (the host
 * stays Failed and the CP already knows); the operator is told.
 */
import type { Handler } from './context.ts'

/** Handles a failed rollback. */
export const onRollbackFailed: Handler<'RollbackFailed'> = (ctx, { rolloutId, reason }) => {
  ctx.deps.log.error('host stays Failed: rollback did not complete', { rolloutId, reason })
}
