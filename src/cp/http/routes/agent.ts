/**
 * The agent surface (spec protocol.md §6.2, §10): `POST /v1/enroll` (bootstrap token, no client
 * certificate) and, for agent certificates only, `/v1/agent/{renew,events,heartbeat,dispatch,
 * closure/:hash, closure/nar/:file}`. The closure proxy forwards narinfo and NAR requests to
 * `--closure-upstream` unchanged: Nix on the host still checks every signature against its own
 * trusted keys, so the proxy widens reach, never trust. Identity binding: the certificate's machine id must equal the body's
 * hostname (403). State changes go through the mutator; a full queue or a reply slower than
 * `REPLY_TIMEOUT_MS` is 503 + Retry-After, which agents retry (`reply.ts`).
 */
import { Hono, type Context } from 'hono'
import {
  AgentEventEnvelopeSchema,
  HeartbeatRequestSchema,
  REPLAY_FROM_HEADER,
  type Dispatch,
  type WireAgentEvent,
  type HeartbeatResponse,
} from '../../../proto/agent.ts'
import { wireToOutbound } from '../../../runtime/wire.ts'
import { parseRfc3339Ms, toRfc3339 } from '../../../proto/common.ts'
import type { IssueResult } from '../../enroll.ts'
import type { AppDeps, CpEnv } from '../deps.ts'
import { capEvent, HostRateLimiter } from '../event-limits.ts'
import { checkBody, jsonBody, limitBody, rawJson } from '../middleware/body.ts'
import { busy, jsonError } from '../middleware/errors.ts'
import { identityGate } from '../middleware/gates.ts'
import { respondToReply } from '../reply.ts'
import { labelWord } from '../../../runtime/prometheus.ts'

/** The longest long-poll hold (seconds), the reference's clamp. */
export const MAX_WAIT_SECS = 60
// Events carry at most a stderr tail and probe sub-results; 1 MiB is far above any real one.
const EVENT_BODY_LIMIT = 1024 * 1024
// Heartbeats, enrolment (token + CSR) and renewal bodies are a few KiB.
const SMALL_BODY_LIMIT = 64 * 1024
// An agent numbers its events of a rollout 1, 2, 3…; dropped probe chatter leaves gaps of a few
// hundred at most. A jump of a million is a forged seq, and one near 2^53 would leave the record
// no room to count further (every later seq a duplicate or unsafe).
const MAX_SEQ_JUMP = 1_000_000
// Event times are recorded as the agent reports them; a clock minutes fast or an outbox replayed
// after weeks offline is real, a time days in the future or months back is not.
const MAX_EVENT_AHEAD_MS = 10 * 60_000
const MAX_EVENT_BEHIND_MS = 30 * 86_400_000
// A NAR file as binary caches name them: its hash, `.nar`, and the compression's suffix.
const NAR_FILE = /^[0-9a-z]{32,64}\.nar(\.(xz|bz2|zst|gz|lz4|br))?$/
// NAR downloads through the CP at once: closures are fetched a wave at a time, and the CP's
// bandwidth, not its memory (bodies are streamed), is what a larger number would exhaust.
const MAX_NAR_STREAMS = 16
const NAR_HEADERS_TIMEOUT_MS = 15_000

/** `fn`, run at most once. */
function once(fn: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}

/** `body` passed through, calling `done` when it ends, fails or the client goes away. */
function releasing(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const r = await reader.read()
        if (r.done) {
          done()
          ctrl.close()
        } else ctrl.enqueue(r.value)
      } catch (e) {
        done()
        ctrl.error(e)
      }
    },
    cancel(reason) {
      done()
      return reader.cancel(reason)
    },
  })
}

/** The answer of an enrolment or renewal (429 and 503 with `Retry-After`). */
function issued(c: Context<CpEnv>, r: IssueResult): Response {
  if (r.status === 200) return c.json(r.body, 200)
  if (r.retryAfterSecs !== undefined) c.header('Retry-After', String(r.retryAfterSecs))
  return jsonError(c, r.status, r.error)
}

/** `POST /v1/enroll`. */
export function enrollRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  app.post('/', limitBody(SMALL_BODY_LIMIT), async (c) => {
    return issued(c, await deps.enroll.enroll(await rawJson(c)))
  })
  return app
}

/** The time an agent event reports (each kind has one `…At` field). */
function eventTime(event: WireAgentEvent): number {
  for (const [k, v] of Object.entries(event))
    if (k.endsWith('At') && typeof v === 'string') return parseRfc3339Ms(v)
  return Number.NaN
}

/** The `/v1/agent/*` routes. */
export function agentRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  app.use('*', identityGate(deps, ['agent']))
  const limits = deps.config.events
  const eventRate = new HostRateLimiter(limits.perMinute, limits.burst)

  app.post('/renew', limitBody(SMALL_BODY_LIMIT), async (c) => {
    const caller = c.get('caller')
    const peer = deps.identify(c)
    const r = await deps.enroll.renew(
      caller.name,
      { cn: caller.cn, serial: peer?.serialHex ?? 'unknown', notBeforeMs: caller.notBeforeMs },
      await rawJson(c)
    )
    return issued(c, r)
  })

  app.post('/events', limitBody(EVENT_BODY_LIMIT), async (c) => {
    const host = c.get('caller').name
    // Before the body is even read: a host over its rate costs a token-bucket update.
    const wait = eventRate.take(host, deps.clock.monotonicMs())
    if (wait > 0) {
      deps.metrics.eventsRateLimited.inc()
      c.header('Retry-After', String(wait))
      return jsonError(c, 429, 'too many events from this host; retry later')
    }
    const body = await jsonBody(c, AgentEventEnvelopeSchema)
    if (body.hostname !== host)
      return jsonError(c, 403, 'certificate does not belong to the body hostname')
    const rec = deps.state.host(body.rolloutId, host)
    // Idempotent duplicate: answered without touching the mutator.
    if (rec !== undefined && body.event.seq <= rec.lastEventSeq) return c.body(null, 204)
    if (body.event.seq > (rec?.lastEventSeq ?? 0) + MAX_SEQ_JUMP)
      return jsonError(c, 400, `event seq jumps more than ${MAX_SEQ_JUMP} ahead of the record`)
    const at = eventTime(body.event)
    const now = deps.clock.now()
    if (at > now + MAX_EVENT_AHEAD_MS || at < now - MAX_EVENT_BEHIND_MS)
      return jsonError(c, 400, 'event time is outside the window the control plane accepts')
    const capped = capEvent(body.event, limits.fieldBytes, limits.eventBytes)
    if (!capped.ok) {
      deps.metrics.eventsTooLarge.inc({ kind: labelWord(body.event.kind) })
      return jsonError(c, 413, `event too large to store (limit ${limits.eventBytes} bytes)`)
    }
    if (capped.truncated) deps.metrics.eventsTruncated.inc({ kind: labelWord(body.event.kind) })
    const reply = deps.mutator.request({
      type: 'HostEvent',
      host,
      rolloutId: body.rolloutId,
      event: wireToOutbound(capped.event),
    })
    return respondToReply(c, reply, (r) =>
      r.status === 204 ? c.body(null, 204) : jsonError(c, 409, r.error)
    )
  })

  app.post('/heartbeat', limitBody(SMALL_BODY_LIMIT), async (c) => {
    const body = checkBody(await rawJson(c), HeartbeatRequestSchema)
    if (body.hostname !== c.get('caller').name) {
      return jsonError(c, 403, 'certificate does not belong to the body hostname')
    }
    const peer = deps.identify(c)
    const cert =
      peer === undefined
        ? undefined
        : { serial: peer.serialHex, notBefore: peer.notBeforeMs, notAfter: peer.notAfterMs }
    const input = { type: 'Heartbeat', request: body, cert } as const
    return respondToReply(c, deps.mutator.request(input), (r) => {
      if (r.replayFrom !== null) c.header(REPLAY_FROM_HEADER, String(r.replayFrom))
      const res: HeartbeatResponse = {
        received_at: toRfc3339(deps.clock.now()),
        ...(r.bootstrap !== null ? { bootstrap_rollouts: r.bootstrap } : {}),
        ...(Object.keys(r.replayFromByRollout).length > 0
          ? { replay_from_by_rollout: r.replayFromByRollout }
          : {}),
      }
      return c.json(res, 200)
    })
  })

  app.get('/dispatch', async (c) => {
    const raw = c.req.query('wait')
    if (raw !== undefined && !/^\d{1,6}$/.test(raw))
      return jsonError(c, 400, 'wait must be a non-negative integer (seconds)')
    const wait = Math.min(raw === undefined ? MAX_WAIT_SECS : Number(raw), MAX_WAIT_SECS)
    const host = c.get('caller').name
    // The 204 comes at a random moment in the last sixteenth of the wait (Consul's spread for
    // blocking queries): a fleet lined up by a CP restart or stall (every agent re-polling at
    // once) would otherwise come back at once, wait after wait. Never later than asked.
    const deadline = deps.clock.monotonicMs() + wait * 1000 * (1 - Math.random() / 16)
    for (;;) {
      if (deps.state.nextDispatch(host) !== undefined) {
        const taken = deps.mutator.request({ type: 'TakeDispatch', host })
        if (taken === undefined) return busy(c, 'control plane busy; retry')
        const d = await taken
        if (d !== undefined) {
          const body: Dispatch = {
            hostname: d.hostname as Dispatch['hostname'],
            rollout_id: d.rolloutId as Dispatch['rollout_id'],
            target_closure: d.targetClosure as Dispatch['target_closure'],
            soak_due_at: toRfc3339(d.soakDueAt),
            enqueued_at: toRfc3339(d.enqueuedAt),
            wave_index: d.waveIndex,
          }
          return c.json(body, 200)
        }
      }
      const remaining = deadline - deps.clock.monotonicMs()
      if (remaining <= 0 || deps.closing.aborted) return c.body(null, 204)
      // No abort signal per long-poll: shutdown closes the hub, which ends every wait, and a
      // signal per request (AbortSignal.any) would be ~1,000 new listeners a second at 10k agents.
      const why = await deps.hub.wait(host, remaining)
      // An operator denied this host while it waited: the poll ends now, refused.
      const denied = deps.state.denial('host', host)
      if (denied !== undefined) {
        c.header('Connection', 'close')
        return jsonError(c, 401, `certificate denied by ${denied.by}: ${denied.reason}`)
      }
      if (why === 'closed') {
        // Shutting down (or the client left): say so, so the client does not reuse the socket.
        if (deps.closing.aborted) c.header('Connection', 'close')
        return c.body(null, 204)
      }
      if (why === 'timeout' && deps.state.nextDispatch(host) === undefined) return c.body(null, 204)
    }
  })

  const notConfigured = (c: Context<CpEnv>) =>
    c.json(
      {
        error: 'closure proxy not configured',
        tracking: 'set --closure-upstream to a binary cache URL',
      },
      501
    )

  app.get('/closure/:hash', async (c) => {
    const hash = c.req.param('hash')
    // The decoded parameter: an encoded '?', '#' or '/' must not reach the upstream URL.
    if (!/^[A-Za-z0-9+._-]{1,255}$/.test(hash)) return jsonError(c, 400, 'not a closure hash')
    const upstream = deps.config.closureUpstream
    if (upstream === undefined) return notConfigured(c)
    // A narinfo is named by the store path's hash part (the 32 chars before the first '-').
    const hashPart = /^[0-9a-z]{32}-/.test(hash) ? hash.slice(0, 32) : hash
    try {
      const res = await fetch(`${upstream.replace(/\/+$/, '')}/${hashPart}.narinfo`, {
        signal: AbortSignal.timeout(15_000),
      })
      return c.body(await res.arrayBuffer(), res.status as 200, {
        'content-type': 'text/x-nix-narinfo',
      })
    } catch {
      return jsonError(c, 502, 'binary cache unreachable')
    }
  })

  // A NAR named by a narinfo's `URL: nar/<file>`, streamed from the upstream; at most
  // `MAX_NAR_STREAMS` at once over all agents (beyond: 503, and Nix tries again).
  let narStreams = 0
  app.get('/closure/nar/:file', async (c) => {
    const file = c.req.param('file')
    if (!NAR_FILE.test(file)) return jsonError(c, 400, 'not a NAR file name')
    const upstream = deps.config.closureUpstream
    if (upstream === undefined) return notConfigured(c)
    if (narStreams >= MAX_NAR_STREAMS) {
      c.header('Retry-After', '5')
      return jsonError(c, 503, 'too many closure downloads through the control plane; retry')
    }
    narStreams++
    const done = once(() => narStreams--)
    const headers = new AbortController()
    const timer = setTimeout(() => headers.abort(), NAR_HEADERS_TIMEOUT_MS)
    try {
      const res = await fetch(`${upstream.replace(/\/+$/, '')}/nar/${file}`, {
        signal: headers.signal,
      })
      clearTimeout(timer)
      if (res.status !== 200 || res.body === null) {
        await res.body?.cancel()
        done()
        return c.body(null, res.status === 200 ? 502 : (res.status as 404))
      }
      const length = res.headers.get('content-length')
      return c.body(releasing(res.body, done), 200, {
        'content-type': 'application/x-nix-nar',
        ...(length !== null ? { 'content-length': length } : {}),
      })
    } catch {
      clearTimeout(timer)
      done()
      return jsonError(c, 502, 'binary cache unreachable')
    }
  })

  return app
}
