/**
 * One error shape for the whole API (STYLE §7.18): `{ "error": "<sentence>" }` with the right
 * status, plus helpers to answer with it. Error texts name the problem and never echo input.
 */
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Logger } from '../../../runtime/log.ts'
import { MutatorStopped } from '../../mutator/loop.ts'
import { DeadlineExceeded } from '../../replica/deadline.ts'
import { ReplyTimeout } from '../../replica/input-queue.ts'
import { RemoteRefusal } from '../../replica/remote-mutator.ts'
import { repeatLog } from '../../../runtime/repeat-log.ts'

// The same failure of the same route is logged at most once a minute, with a count.
const REQUEST_ERROR_LOG_INTERVAL_MS = 60_000

/** A JSON error response. */
export function jsonError(
  c: Context,
  status: ContentfulStatusCode,
  error: string,
  extra: Record<string, unknown> = {}
): Response {
  return c.json({ error, ...extra }, status)
}

/** Throws an HTTP error that `onError` renders as JSON. */
export function fail(status: ContentfulStatusCode, error: string): never {
  throw new HTTPException(status, { message: error })
}

/**
 * The app's error handler: HTTPException → its status; a stopped mutator → 503; anything else →
 * 500, logged once per interval per route and message (a client aborting its body mid-stream, in
 * a loop, must not flood the log; `onSuppressed` counts what was not written).
 */
export function errorHandler(log: Logger, now: () => number, onSuppressed?: () => void) {
  const logged = repeatLog({
    log,
    intervalMs: REQUEST_ERROR_LOG_INTERVAL_MS,
    now,
    onSuppressed,
  })
  return (err: Error, c: Context): Response => {
    if (err instanceof HTTPException) {
      const res = err.getResponse()
      return jsonError(
        c,
        err.status as ContentfulStatusCode,
        err.message || res.statusText || 'error'
      )
    }
    // The mutator stopped under this request (a fatal database error): the CP is going down.
    if (err instanceof MutatorStopped) return busy(c, 'control plane stopping; retry')
    // On a follower replica: the leader did not answer (it may be failing over). A retried input
    // is deduplicated like any other.
    if (
      err instanceof ReplyTimeout ||
      err instanceof DeadlineExceeded ||
      err instanceof RemoteRefusal
    )
      return busy(c, 'the leading control plane did not answer; retry')
    logged('error', `${c.req.routePath}\u0000${err.message}`, 'request failed', {
      path: c.req.path,
      error: err.message,
    })
    return jsonError(c, 500, 'internal error')
  }
}

/** 503 with `Retry-After` (mutator queue full, reply timeout, shutting down). */
export function busy(c: Context, error: string, retryAfterSecs = 1): Response {
  c.header('Retry-After', String(retryAfterSecs))
  return jsonError(c, 503, error)
}
