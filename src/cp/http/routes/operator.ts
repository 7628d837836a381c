/**
 * The operator surface, operator certificates only (DECISIONS §3.12): the fleet views of spec
 * protocol.md §6.2 (`/v1/hosts`, `/v1/rollouts…`, `/v1/channels/:name`, `/v1/deferrals`),
 * `/v1/whoami` (any fleet certificate), and the actions of DECISIONS §3.13 under
 * `/v1/operator/*`: list and clear quarantines, resume or cancel a halted rollout, refresh the
 * release source now, and the adoption status of every signed artifact. Every action is
 * recorded in the event log with the operator's CN (by the mutator). Routes only authorize,
 * parse, and answer: the JSON comes from the pure views in `../views/`.
 */
import { Hono, type Context } from 'hono'
import { parseRolloutId } from '../../../proto/ids.ts'
import { ClearQuarantineSchema, RolloutActionSchema } from '../../../proto/operator.ts'
import { toRfc3339 } from '../../../proto/common.ts'
import type { OperatorOp } from '../../mutator/inputs.ts'
import type { AppDeps, CpEnv } from '../deps.ts'
import { jsonBody, limitBody } from '../middleware/body.ts'
import { jsonError } from '../middleware/errors.ts'
import { identityGate, READERS } from '../middleware/gates.ts'
import { respondToReply, withTimeout } from '../reply.ts'
import { channelView, deferralsView } from '../views/channels.ts'
import type { ViewResult } from '../views/common.ts'
import { hostsView } from '../views/hosts.ts'
import { quarantinesView, refreshView, statusView } from '../views/operator.ts'
import {
  lifecycleView,
  rolloutEventsView,
  rolloutHostsView,
  rolloutsView,
} from '../views/rollouts.ts'

const SMALL_BODY_LIMIT = 16 * 1024
// Events of one rollout can be many; an operator page is capped so one request stays cheap.
const DEFAULT_EVENT_LIMIT = 1000
const MAX_EVENT_LIMIT = 10_000
// A refresh waits for the poll it triggers: fetch + verify of a large fleet is seconds at most.
const REFRESH_TIMEOUT_MS = 30_000

/** A view's JSON (200), or its error. */
function respond(c: Context<CpEnv>, v: ViewResult<Record<string, unknown>>): Response {
  return v.ok ? c.json(v.body) : jsonError(c, v.status, v.error)
}

/** The fleet views and `/v1/whoami` (mounted under `/v1`). */
export function viewRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  const operator = identityGate(deps, READERS)
  const { state } = deps

  app.get('/whoami', identityGate(deps, ['agent', ...READERS]), (c) => {
    const caller = c.get('caller')
    return c.json({
      cn: caller.cn,
      issuedAt: toRfc3339(deps.clock.now()),
      role: caller.role,
      name: caller.name,
    })
  })

  app.get('/hosts', operator, (c) => c.json(hostsView(state)))

  app.get('/rollouts', operator, (c) => c.json(rolloutsView(state)))

  const rolloutOr = (c: Context<CpEnv>): string | Response => {
    const id = c.req.param('id') ?? ''
    return parseRolloutId(id) === undefined ? jsonError(c, 400, 'not a rollout id') : id
  }

  app.get('/rollouts/:id/lifecycle', operator, (c) => {
    const id = rolloutOr(c)
    return typeof id !== 'string' ? id : respond(c, lifecycleView(state, id))
  })

  app.get('/rollouts/:id/hosts', operator, (c) => {
    const id = rolloutOr(c)
    return typeof id !== 'string'
      ? id
      : respond(c, rolloutHostsView(state, id, deps.store.hosts.ofRollout(id)))
  })

  app.get('/rollouts/:id/events', operator, (c) => {
    const id = rolloutOr(c)
    if (typeof id !== 'string') return id
    const raw = c.req.query('limit')
    if (raw !== undefined && !/^\d{1,6}$/.test(raw))
      return jsonError(c, 400, 'limit must be a positive integer')
    const limit = Math.min(
      Math.max(raw === undefined ? DEFAULT_EVENT_LIMIT : Number(raw), 1),
      MAX_EVENT_LIMIT
    )
    return c.json(rolloutEventsView(id, deps.store.events.forRollout(id, limit)))
  })

  app.get('/channels/:name', operator, (c) => respond(c, channelView(state, c.req.param('name'))))

  app.get('/deferrals', operator, (c) => c.json(deferralsView(state)))

  return app
}

function operatorAction(c: Context<CpEnv>, deps: AppDeps, op: OperatorOp): Promise<Response> {
  const reply = deps.mutator.request({ type: 'Operator', op, operator: c.get('caller').cn })
  return respondToReply(c, reply, (r) =>
    r.ok ? c.json(r.body, 200) : jsonError(c, r.status, r.error)
  )
}

/** The `/v1/operator/*` actions and status. */
export function operatorRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  const { state } = deps
  app.use('*', identityGate(deps, READERS))

  app.get('/status', (c) =>
    c.json(
      statusView(state, {
        ready: deps.isReady(),
        mutatorQueueDepth: deps.mutator.depth,
        openLongPolls: deps.hub.size(),
      })
    )
  )

  app.get('/quarantines', (c) => c.json(quarantinesView(state)))

  app.post('/quarantines/clear', limitBody(SMALL_BODY_LIMIT), async (c) => {
    const body = await jsonBody(c, ClearQuarantineSchema)
    return operatorAction(c, deps, {
      kind: 'clear-quarantine',
      channel: body.channel,
      closure: body.closure,
      reason: body.reason,
    })
  })

  for (const kind of ['resume', 'cancel'] as const) {
    app.post(`/rollouts/:id/${kind}`, limitBody(SMALL_BODY_LIMIT), async (c) => {
      const id = c.req.param('id') ?? ''
      if (parseRolloutId(id) === undefined) return jsonError(c, 400, 'not a rollout id')
      const body = await jsonBody(c, RolloutActionSchema)
      return operatorAction(c, deps, { kind, rolloutId: id, reason: body.reason })
    })
  }

  app.post('/refresh', async (c) => {
    const done = await withTimeout(
      deps.poller.refresh().then(() => 'done' as const),
      REFRESH_TIMEOUT_MS
    )
    return c.json(refreshView(state, done === 'done'), done === 'done' ? 200 : 202)
  })
  return app
}
