/**
 * `GET /v1/stream` (operators): the fleet status as server-sent events, what the dashboard and
 * `nixfleet status --watch` follow. The first event is `snapshot` (`{channels, hosts,
 * rollouts}`, the bodies of the list views); each later change of that status is a `change`
 * event carrying the whole new status. Every event has an `id:`; a reconnecting client gets a
 * fresh snapshot, so Last-Event-ID needs no replay. A comment line every 15 s keeps proxies from
 * timing the stream out. Invariants: the status is computed once per period for all clients and
 * only while some client listens; every stream ends when the server starts shutting down.
 */
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { budgetLimit, isClosed, isInFlight } from '../../../core/index.ts'
import { heartbeatIntervalMsOf } from '../../config.ts'
import type { CpState } from '../../state.ts'
import type { AppDeps, CpEnv } from '../deps.ts'
import { identityGate, READERS } from '../middleware/gates.ts'
import { channelsView } from '../views/channels.ts'
import { type HostViewContext, hostsView } from '../views/hosts.ts'
import { rolloutsView } from '../views/rollouts.ts'

// How often the status is compared with the last one sent: changes reach pages within a second.
const CHECK_MS = 1_000
const KEEPALIVE_MS = 15_000

/** The streamed status: what the list views show. Pure. */
export function streamStatus(state: CpState, hostCtx: HostViewContext): Record<string, unknown> {
  const release = state.release
  const listed = channelsView(state, hostCtx.now)
  // The channel rows, plus each channel's resolved waves (the overview's rows of tiles).
  const channels = (listed.ok ? listed.body.channels : []).map((row) => ({
    ...row,
    waves: (release?.fleet.value.waves[row['name'] as never] ?? []).map((w, index) => ({
      index,
      hosts: w.hosts,
      soakMinutes: w.soakMinutes,
    })),
  }))
  // A budget's use: its hosts in flight in any live rollout (what the planner counts).
  const inFlight = new Set<string>()
  for (const records of Object.values(state.hosts))
    for (const [host, r] of Object.entries(records)) if (isInFlight(r.phase)) inFlight.add(host)
  // Budgets are fleet-wide; every live rollout holds the resolved copy it was opened with.
  const budgets = new Map<string, { hosts: number; inFlight: number; maxInFlight: number | null }>()
  for (const r of state.rollouts.values()) {
    if (isClosed(r.record.phase)) continue
    for (const b of r.budgets) {
      budgets.set(JSON.stringify([b.hosts, b.maxInFlight, b.maxInFlightPct]), {
        hosts: b.hosts.length,
        inFlight: b.hosts.filter((h) => inFlight.has(h)).length,
        maxInFlight: budgetLimit(b) ?? null,
      })
    }
  }
  return {
    channels,
    hosts: hostsView(state, hostCtx).hosts,
    rollouts: rolloutsView(state).rollouts,
    budgets: [...budgets.values()],
  }
}

type Listener = (id: number, json: string) => void

/** One status computation per period, shared by every open stream. */
class StatusFeed {
  private readonly listeners = new Set<Listener>()
  private timer: ReturnType<typeof setInterval> | undefined
  private last = ''
  private id = 0

  constructor(
    private readonly state: CpState,
    private readonly hostCtx: () => HostViewContext
  ) {}

  /** The current status and its id (a new id when it changed since the last look). */
  current(): { id: number; json: string } {
    const json = JSON.stringify(streamStatus(this.state, this.hostCtx()))
    if (json !== this.last) {
      this.last = json
      this.id++
    }
    return { id: this.id, json }
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn)
    this.timer ??= setInterval(() => this.tick(), CHECK_MS)
    return () => {
      this.listeners.delete(fn)
      if (this.listeners.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer)
        this.timer = undefined
      }
    }
  }

  private tick(): void {
    const before = this.id
    const { id, json } = this.current()
    if (id !== before) for (const fn of this.listeners) fn(id, json)
  }
}

/** The `/v1/stream` route (mounted under `/v1`). */
export function streamRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  const feed = new StatusFeed(deps.state, () => ({
    now: deps.clock.now(),
    heartbeatIntervalMs: heartbeatIntervalMsOf(deps.config.heartbeatIntervalMs),
  }))
  app.get('/stream', identityGate(deps, READERS), (c) =>
    streamSSE(c, async (stream) => {
      const first = feed.current()
      await stream.writeSSE({ event: 'snapshot', id: String(first.id), data: first.json })
      let wake: () => void = () => {}
      const ended = new Promise<void>((resolve) => (wake = resolve))
      const unsubscribe = feed.subscribe((id, json) => {
        stream.writeSSE({ event: 'change', id: String(id), data: json }).catch(() => wake())
      })
      const keepalive = setInterval(() => {
        stream.write(': keep-alive\n\n').catch(() => wake())
      }, KEEPALIVE_MS)
      stream.onAbort(() => wake())
      if (deps.closing.aborted) wake()
      deps.closing.addEventListener('abort', () => wake(), { once: true })
      await ended
      clearInterval(keepalive)
      unsubscribe()
    })
  )
  return app
}
