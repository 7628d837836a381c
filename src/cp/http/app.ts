/**
 * The control plane's HTTP app (STYLE §7.18): a factory taking every dependency, so route tests
 * drive it with `app.request()` and the server runs it through `@hono/node-server` behind the
 * mTLS listener. Surfaces and their guards (spec protocol.md §6, DECISIONS §3.12):
 *
 *   /healthz                      no gates
 *   /v1/webhook/refresh           bearer token (forges hold no client certificate)
 *   /v1/*                         readiness (503), protocol header (426/400), then per surface:
 *     /v1/enroll                    bootstrap token in the body
 *     /v1/agent/*                   agent certificates; CN must match the body hostname
 *     /v1/fleet.resolved, /v1/rollouts/:id(/sig)   agent, operator or viewer certificates
 *     /v1/whoami, /v1/openapi.json  agent, operator or viewer certificates
 *     /v1/hosts, /v1/rollouts…, /v1/channels(/:name), /v1/deferrals, /v1/operator/*   operators;
 *                                   viewers for GET (and /v1/operator/status before readiness)
 *     /v1/stream                    operators and viewers (server-sent fleet status)
 *   /v1/operator/* POSTs          also the CSRF guard for browsers (`middleware/csrf.ts`)
 *   (every route, with its role, is listed in openapi-routes.ts)
 *   /metrics                      operator or viewer certificates, never gated on readiness
 *                                 (`nixfleet_cp_ready 0` must be scrapeable)
 *   /ui/                          operator or viewer certificates (the dashboard's files)
 *
 * Every error is `{ "error": … }` JSON; bodies are size-limited (413), typed (415), parsed (400)
 * and validated (400 with per-field reasons that never echo input).
 */
import { timingSafeEqual } from 'node:crypto'
import { Hono } from 'hono'
import { routePath } from 'hono/route'
import { toRfc3339 } from '../../proto/common.ts'
import { EXPOSITION_CONTENT_TYPE } from '../../runtime/prometheus.ts'
import type { AppDeps, CpEnv } from './deps.ts'
import { BodyError } from './middleware/body.ts'
import { csrfGate } from './middleware/csrf.ts'
import { errorHandler, jsonError } from './middleware/errors.ts'
import { identityGate, protocolGate, READERS, readyGate } from './middleware/gates.ts'
import { openApiDocument } from './openapi.ts'
import { agentRoutes, enrollRoutes } from './routes/agent.ts'
import { artifactRoutes } from './routes/artifacts.ts'
import { operatorRoutes, viewRoutes } from './routes/operator.ts'
import { streamRoutes } from './routes/stream.ts'
import { uiRoutes } from './routes/ui.ts'

/** Builds the CP app. */
export function createApp(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  const onError = errorHandler(
    deps.log,
    () => deps.clock.monotonicMs(),
    () => deps.metrics.logSuppressed.inc()
  )

  app.use('*', async (c, next) => {
    const started = deps.clock.monotonicMs()
    await next()
    const route = c.res.status === 404 && c.req.routePath === '*' ? 'unmatched' : routePath(c, -1)
    const seconds = (deps.clock.monotonicMs() - started) / 1000
    deps.metrics.httpRequests.inc({ route, method: c.req.method, status: String(c.res.status) })
    deps.metrics.httpLatency.observe(seconds, { route })
    if (deps.config.accessLog === true)
      deps.log.info('request', {
        method: c.req.method,
        path: c.req.path.slice(0, 200),
        route,
        status: c.res.status,
        ms: Math.round(seconds * 1000),
        caller: c.get('caller')?.cn ?? null,
      })
  })
  app.onError((err, c) => {
    if (err instanceof BodyError) return c.json({ error: err.message, fields: err.fields }, 400)
    return onError(err, c)
  })
  app.notFound((c) => jsonError(c, 404, 'no such route'))

  app.get('/healthz', (c) =>
    c.json({
      ok: true,
      version: deps.version,
      last_tick_at: deps.state.lastPlanAt === null ? null : toRfc3339(deps.state.lastPlanAt),
      ready: deps.isReady(),
    })
  )

  app.post('/v1/webhook/refresh', async (c) => {
    const token = await deps.config.webhookToken()
    if (token === undefined) return jsonError(c, 404, 'no such route')
    const given = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1]?.trim() ?? ''
    const a = Buffer.from(given)
    const b = Buffer.from(token)
    if (a.length !== b.length || !timingSafeEqual(a, b))
      return jsonError(c, 401, 'bad webhook token')
    // Forges want a quick answer; the poll runs in the background and is logged.
    deps.poller
      .refresh()
      .catch((e: unknown) => deps.log.error('webhook refresh failed', { error: String(e) }))
    return c.json({ accepted: true }, 202)
  })

  app.use('/v1/*', readyGate(deps), protocolGate(deps))
  app.get('/v1/openapi.json', identityGate(deps, ['agent', ...READERS]), (c) =>
    c.json(openApiDocument(deps.version))
  )
  app.route('/v1/enroll', enrollRoutes(deps))
  app.route('/v1/agent', agentRoutes(deps))
  app.use('/v1/operator/*', csrfGate())
  app.route('/v1/operator', operatorRoutes(deps))
  app.route('/v1', artifactRoutes(deps))
  app.route('/v1', viewRoutes(deps))
  app.route('/v1', streamRoutes(deps))

  app.get('/metrics', identityGate(deps, READERS), (c) =>
    c.body(deps.metrics.render(), 200, { 'content-type': EXPOSITION_CONTENT_TYPE })
  )
  app.route('/', uiRoutes(deps))
  return app
}
