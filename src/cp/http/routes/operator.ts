/**
 * The operator surface, operator certificates only (DECISIONS §3.12): the fleet views of spec
 * protocol.md §6.2 (`/v1/hosts`, `/v1/rollouts…`, `/v1/channels/:name`, `/v1/deferrals`),
 * `/v1/whoami` (any fleet certificate), the rollout history and detail, and the actions of
 * DECISIONS §3.13 under `/v1/operator/*`: list and clear quarantines, resume or cancel a
 * rollout, retry or skip a host, deny or allow a host or an operator certificate, the audit
 * trail and denials, refresh the release source now, and the adoption status of every signed
 * artifact. Every action is recorded in the event log and the audit trail with the operator's CN
 * and reason (by the mutator). Routes only authorize,
 * parse, and answer: the JSON comes from the pure views in `../views/`.
 */
import { Hono, type Context } from 'hono'
import * as v from 'valibot'
import { ROLLOUT_PHASES } from '../../../core/index.ts'
import { EVENT_KINDS } from '../../../db/schema.ts'
import { HostnameSchema, parseRolloutId } from '../../../proto/ids.ts'
import {
  ClearQuarantineSchema,
  HostActionSchema,
  RolloutActionSchema,
} from '../../../proto/operator.ts'
import { roleOfCn } from '../../../pki/identity.ts'
import { toRfc3339 } from '../../../proto/common.ts'
import type { OperatorOp } from '../../mutator/inputs.ts'
import type { AppDeps, CpEnv } from '../deps.ts'
import { jsonBody, limitBody } from '../middleware/body.ts'
import { jsonError } from '../middleware/errors.ts'
import { identityGate, READERS } from '../middleware/gates.ts'
import { respondToReply, withTimeout } from '../reply.ts'
import { channelView, channelsView, deferralsView } from '../views/channels.ts'
import type { ViewResult } from '../views/common.ts'
import {
  auditView,
  denialsView,
  quarantinesView,
  refreshView,
  statusView,
} from '../views/operator.ts'
import { hostRoutes } from './hosts.ts'
import {
  lifecycleView,
  parseRolloutCursor,
  parseRolloutStates,
  rolloutDetailView,
  rolloutEventsView,
  rolloutHistoryView,
  rolloutHostsView,
  rolloutsView,
} from '../views/rollouts.ts'

const SMALL_BODY_LIMIT = 16 * 1024
// Events of one rollout can be many; an operator page is capped so one request stays cheap.
const DEFAULT_EVENT_LIMIT = 1000
const MAX_EVENT_LIMIT = 10_000
// A history page: small by default, bounded so one request stays cheap.
const DEFAULT_PAGE = 50
const MAX_PAGE = 500
// A refresh waits for the poll it triggers: fetch + verify of a large fleet is seconds at most.
const REFRESH_TIMEOUT_MS = 30_000

/** A view's JSON (200), or its error. */
function respond(c: Context<CpEnv>, v: ViewResult<Record<string, unknown>>): Response {
  return v.ok ? c.json(v.body) : jsonError(c, v.status, v.error)
}

/** `?limit=` within [1, max] (default `dflt`), or a 400 response. */
function limitOr(c: Context<CpEnv>, dflt: number, max: number): number | Response {
  const raw = c.req.query('limit')
  if (raw !== undefined && !/^\d{1,6}$/.test(raw))
    return jsonError(c, 400, 'limit must be a positive integer')
  return Math.min(Math.max(raw === undefined ? dflt : Number(raw), 1), max)
}

/** `?name=` as a non-negative integer cursor, undefined when absent, or a 400 response. */
function seqOr(c: Context<CpEnv>, name: string): number | undefined | Response {
  const raw = c.req.query(name)
  if (raw === undefined) return undefined
  if (!/^\d{1,15}$/.test(raw)) return jsonError(c, 400, `${name} must be a non-negative integer`)
  return Number(raw)
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

  // Hosts: rows with their problem, one host's detail (routes/hosts.ts).
  app.route('/hosts', hostRoutes(deps, operator))

  app.get('/rollouts', operator, async (c) => {
    const all = c.req.query('all')
    const rawState = c.req.query('state')
    const channel = c.req.query('channel')
    if (all === undefined && rawState === undefined) {
      const open = rolloutsView(state)
      const rows =
        channel === undefined ? open.rollouts : open.rollouts.filter((r) => r.channel === channel)
      return c.json({ rollouts: rows, next: null })
    }
    const states = rawState === undefined ? undefined : parseRolloutStates(rawState, ROLLOUT_PHASES)
    if (states === undefined && rawState !== undefined)
      return jsonError(c, 400, `state must be one or more of ${ROLLOUT_PHASES.join(', ')}`)
    const limit = limitOr(c, DEFAULT_PAGE, MAX_PAGE)
    if (typeof limit !== 'number') return limit
    const rawCursor = c.req.query('cursor')
    const after = rawCursor === undefined ? undefined : parseRolloutCursor(rawCursor)
    if (rawCursor !== undefined && after === undefined) return jsonError(c, 400, 'bad cursor')
    // One row more than asked tells whether there is a next page.
    const page = await deps.store.rollouts.page({ channel, states, after, limit: limit + 1 })
    return c.json(
      await rolloutHistoryView(state, page, limit, async (id) =>
        Object.fromEntries(
          (await deps.store.hosts.ofRollout(id)).map((h) => [h.state.hostname, h.state.phase])
        )
      )
    )
  })

  const rolloutOr = (c: Context<CpEnv>): string | Response => {
    const id = c.req.param('id') ?? ''
    return parseRolloutId(id) === undefined ? jsonError(c, 400, 'not a rollout id') : id
  }

  // Agents (and operators asking `?artifact=1`) get the signed manifest from the artifact
  // routes mounted before these; operators get the rollout's detail.
  app.get('/rollouts/:id', operator, async (c) => {
    const id = rolloutOr(c)
    if (typeof id !== 'string') return id
    const stored = await deps.store.rollouts.get(id)
    if (stored === undefined) return jsonError(c, 404, 'unknown rollout')
    return c.json(rolloutDetailView(state, stored, await deps.store.hosts.ofRollout(id)))
  })

  app.get('/rollouts/:id/lifecycle', operator, (c) => {
    const id = rolloutOr(c)
    return typeof id !== 'string' ? id : respond(c, lifecycleView(state, id))
  })

  app.get('/rollouts/:id/hosts', operator, async (c) => {
    const id = rolloutOr(c)
    return typeof id !== 'string'
      ? id
      : respond(c, rolloutHostsView(state, id, await deps.store.hosts.ofRollout(id)))
  })

  app.get('/rollouts/:id/events', operator, async (c) => {
    const id = rolloutOr(c)
    if (typeof id !== 'string') return id
    const limit = limitOr(c, DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT)
    if (typeof limit !== 'number') return limit
    const cursor = seqOr(c, 'after')
    if (cursor instanceof Response) return cursor
    const order = c.req.query('order') ?? 'asc'
    if (order !== 'asc' && order !== 'desc') return jsonError(c, 400, 'order must be asc or desc')
    const kind = c.req.query('kind')
    if (kind !== undefined && !(EVENT_KINDS as readonly string[]).includes(kind))
      return jsonError(c, 400, `kind must be one of ${EVENT_KINDS.join(', ')}`)
    const events = await deps.store.events.pageOfRollout(id, {
      cursor,
      host: c.req.query('host'),
      kind: kind as (typeof EVENT_KINDS)[number] | undefined,
      order,
      limit: limit + 1,
    })
    return c.json(rolloutEventsView(id, events, limit))
  })

  app.get('/channels', operator, (c) => respond(c, channelsView(state, deps.clock.now())))

  app.get('/channels/:name', operator, (c) =>
    respond(c, channelView(state, c.req.param('name'), deps.clock.now()))
  )

  app.get('/deferrals', operator, (c) => c.json(deferralsView(state, deps.clock.now())))

  return app
}

function hostnameOr(c: Context<CpEnv>): string | Response {
  const r = v.safeParse(HostnameSchema, c.req.param('hostname') ?? '')
  return r.success ? r.output : jsonError(c, 400, 'not a hostname')
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
        replica: deps.replica?.(),
      })
    )
  )

  app.get('/quarantines', async (c) => {
    // The row that explains each quarantine, read up front: the view itself is synchronous.
    const sources = new Map(
      await Promise.all(
        (await deps.store.safety.quarantines()).map(async (q) => {
          const row =
            q.eventLogSeq === null ? undefined : await deps.store.events.bySeq(q.eventLogSeq)
          const source = { host: row?.host ?? null, rolloutId: row?.rolloutId ?? null }
          return [`${q.channel}/${q.closure}`, source] as const
        })
      )
    )
    return c.json(
      quarantinesView(
        state,
        (channel, closure) =>
          sources.get(`${channel}/${closure}`) ?? { host: null, rolloutId: null }
      )
    )
  })

  // --- history, audit, host actions and denials (issue 15 items 4–6) ---
  app.get('/audit', async (c) => {
    const limit = limitOr(c, DEFAULT_PAGE, MAX_PAGE)
    if (typeof limit !== 'number') return limit
    const after = seqOr(c, 'after')
    if (after instanceof Response) return after
    return c.json(auditView(await deps.store.operator.actions(after ?? 0, limit + 1), limit))
  })

  app.get('/denials', (c) => c.json(denialsView(state)))

  for (const kind of ['retry', 'skip'] as const) {
    app.post(`/hosts/:hostname/${kind}`, limitBody(SMALL_BODY_LIMIT), async (c) => {
      const hostname = hostnameOr(c)
      if (typeof hostname !== 'string') return hostname
      const body = await jsonBody(c, HostActionSchema)
      return operatorAction(c, deps, {
        kind,
        hostname,
        rolloutId: body.rolloutId,
        reason: body.reason,
      })
    })
  }

  for (const kind of ['deny', 'allow'] as const) {
    app.post(`/hosts/:hostname/${kind}`, limitBody(SMALL_BODY_LIMIT), async (c) => {
      const hostname = hostnameOr(c)
      if (typeof hostname !== 'string') return hostname
      const body = await jsonBody(c, RolloutActionSchema)
      const res = await operatorAction(c, deps, {
        kind,
        target: 'host',
        name: hostname,
        reason: body.reason,
      })
      // The host's open long-poll wakes, sees the denial and ends with a 401.
      if (kind === 'deny' && res.status === 200) deps.hub.notify(hostname)
      return res
    })
    app.post(`/operators/:cn/${kind}`, limitBody(SMALL_BODY_LIMIT), async (c) => {
      const cn = c.req.param('cn') ?? ''
      if (roleOfCn(cn, deps.config.agentCnSuffix) !== 'operator')
        return jsonError(c, 400, 'not an operator certificate CN (operator-…)')
      const body = await jsonBody(c, RolloutActionSchema)
      return operatorAction(c, deps, { kind, target: 'operator', name: cn, reason: body.reason })
    })
  }

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
