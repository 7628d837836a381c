/**
 * The CSRF guard of the operator actions (`/v1/operator/*` POSTs) on the CP's listener: the
 * rule of `ui/csrf.ts` as middleware, answering 403 with the reason.
 */
import type { MiddlewareHandler } from 'hono'
import { requestRefusal } from '../../../ui/csrf.ts'
import { jsonError } from './errors.ts'

/** The guard as middleware (403 with the reason). */
export function csrfGate(): MiddlewareHandler {
  return async (c, next) => {
    const refusal = requestRefusal(c.req.method, (n) => c.req.header(n))
    return refusal === undefined ? next() : jsonError(c, 403, refusal)
  }
}
