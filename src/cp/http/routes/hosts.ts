/**
 * `GET /v1/hosts[?channel=C&problem=1]` and `GET /v1/hosts/:hostname` (mounted under `/v1`,
 * behind the caller's role gate). Routes only parse and answer: the JSON comes from the pure
 * views in `../views/hosts.ts`, at the CP's clock and the agents' configured heartbeat interval.
 */
import { Hono, type MiddlewareHandler } from 'hono'
import { heartbeatIntervalMsOf } from '../../config.ts'
import type { AppDeps, CpEnv } from '../deps.ts'
import { jsonError } from '../middleware/errors.ts'
import { hostDetailView, hostsView, type HostViewContext } from '../views/hosts.ts'

// The latest events of one host shown with it.
const HOST_EVENTS_SHOWN = 50

/** What the host views need now: the CP's clock and the agents' heartbeat interval. */
export const hostViewContext = (deps: AppDeps): HostViewContext => ({
  now: deps.clock.now(),
  heartbeatIntervalMs: heartbeatIntervalMsOf(deps.config.heartbeatIntervalMs),
})

/** The host routes. */
export function hostRoutes(deps: AppDeps, gate: MiddlewareHandler<CpEnv>): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  const ctx = (): HostViewContext => hostViewContext(deps)

  app.get('/', gate, (c) => {
    const problem = c.req.query('problem')
    if (problem !== undefined && problem !== '0' && problem !== '1')
      return jsonError(c, 400, 'problem must be 0 or 1')
    return c.json(
      hostsView(deps.state, ctx(), { channel: c.req.query('channel'), problem: problem === '1' })
    )
  })

  app.get('/:hostname', gate, async (c) => {
    const host = c.req.param('hostname')
    const v = hostDetailView(
      deps.state,
      host,
      ctx(),
      await deps.store.events.forHost(host, HOST_EVENTS_SHOWN)
    )
    return v.ok ? c.json(v.body) : jsonError(c, v.status, v.error)
  })
  return app
}
