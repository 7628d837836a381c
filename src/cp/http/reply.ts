/**
 * Waiting from a request handler for something slower than the handler: the mutator's reply
 * (bounded by `REPLY_TIMEOUT_MS`, the reference's value) or an operator refresh. A full queue or
 * a reply that does not come in time answers 503 + Retry-After, which agents retry.
 * Invariant: every wait is bounded and its timer cleared, so no handler outlives its timeout and
 * no timer outlives its handler.
 */
import type { Context } from 'hono'
import { busy } from './middleware/errors.ts'

/**
 * How long a handler waits for the mutator's reply: far above the mutator's per-input cost, so
 * hitting it means the CP is overloaded and the agent should retry.
 */
export const REPLY_TIMEOUT_MS = 5_000

/** What `withTimeout` resolves with when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol('timed out')

/** `p`'s value, or `TIMED_OUT` when `ms` passed first. */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The response to a request the mutator answers: `respond(reply)`, or 503 when the queue refused
 * the input (`pending` undefined) or the reply did not come in time.
 */
export async function respondToReply<T>(
  c: Context,
  pending: Promise<T> | undefined,
  respond: (reply: T) => Response
): Promise<Response> {
  if (pending === undefined) return busy(c, 'control plane busy; retry')
  const r = await withTimeout(pending, REPLY_TIMEOUT_MS)
  return r === TIMED_OUT ? busy(c, 'control plane did not answer in time; retry') : respond(r)
}
