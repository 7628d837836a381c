/**
 * `GET /v1/stream` (operator and viewer certificates): the fleet status pushed as server-sent events, so
 * `nixfleet status --watch` and the dashboard redraw on change instead of polling every host.
 * The first message is `snapshot`, the whole status `{channels, hosts, rollouts, budgets}` from
 * the same views as `/v1/channels`, `/v1/hosts` and `/v1/rollouts` (`views/status.ts`); then `change`, the whole status again, each time it
 * differs after a committed mutator batch (debounced, so a burst of heartbeats is one message).
 * Every message carries an `id:`; a client that reconnects with `Last-Event-ID` gets the current
 * snapshot (each message is complete, so nothing between is needed). A comment line every 15 s
 * keeps proxies from closing an idle stream.
 * Invariants: at most `MAX_SUBSCRIBERS` streams at once (503 beyond); the feed listens to the
 * mutator only while someone is subscribed; a stream ends when the server starts closing.
 */
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import type { AppDeps, CpEnv } from '../deps.ts'
import { jsonError } from '../middleware/errors.ts'
import { identityGate, READERS } from '../middleware/gates.ts'
import { streamStatus } from '../views/status.ts'
import { hostViewContext } from './hosts.ts'

/** Open streams at most: each holds a socket and a serialized status per change. */
export const MAX_SUBSCRIBERS = 64
// One message per burst of commits: heartbeats of a whole fleet land within this.
const DEBOUNCE_MS = 250
const KEEPALIVE_MS = 15_000

type Listener = (id: number, data: string) => void

/** The status document: channels with their waves, hosts, open rollouts, budgets. */
export function statusDocument(deps: AppDeps): string {
  return JSON.stringify(streamStatus(deps.state, hostViewContext(deps)))
}

/** The change feed: the status after each committed batch, when it changed. */
class StatusFeed {
  private readonly listeners = new Set<Listener>()
  private unsubscribe: (() => void) | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private last = ''
  private id = 0

  constructor(private readonly deps: AppDeps) {}

  /** The current status and its id (a new id when it changed since the last message). */
  current(): { id: number; data: string } {
    const data = statusDocument(this.deps)
    if (data !== this.last) {
      this.last = data
      this.id++
    }
    return { id: this.id, data }
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    this.unsubscribe ??= this.deps.mutator.onCommit(() => this.schedule())
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size > 0) return
      this.unsubscribe?.()
      this.unsubscribe = undefined
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  private schedule(): void {
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      const before = this.id
      const { id, data } = this.current()
      if (id !== before) for (const l of this.listeners) l(id, data)
    }, DEBOUNCE_MS)
  }
}

/** The `/v1/stream` route (mounted under `/v1`). */
export function streamRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  const feed = new StatusFeed(deps)
  // Counted when a stream is accepted, not when it subscribes, so a burst cannot overshoot.
  let open = 0
  app.get('/stream', identityGate(deps, READERS), (c) => {
    if (open >= MAX_SUBSCRIBERS)
      return jsonError(c, 503, `at most ${MAX_SUBSCRIBERS} status streams at once; retry later`)
    open++
    return streamSSE(c, async (stream) => {
      const queue: { id: number; data: string }[] = []
      let wake: (() => void) | undefined
      const stop = feed.subscribe((id, data) => {
        queue.push({ id, data })
        wake?.()
      })
      const done = new Promise<void>((resolve) => {
        const end = () => resolve()
        stream.onAbort(end)
        if (deps.closing.aborted) end()
        else deps.closing.addEventListener('abort', end, { once: true })
      })
      try {
        const first = feed.current()
        await stream.writeSSE({ event: 'snapshot', id: String(first.id), data: first.data })
        for (;;) {
          const next = queue.shift()
          if (next !== undefined) {
            await stream.writeSSE({ event: 'change', id: String(next.id), data: next.data })
            continue
          }
          const woke = new Promise<'wake'>((resolve) => (wake = () => resolve('wake')))
          let keepalive: ReturnType<typeof setTimeout> | undefined
          const idle = new Promise<'idle'>(
            (resolve) => (keepalive = setTimeout(() => resolve('idle'), KEEPALIVE_MS))
          )
          const why = await Promise.race([woke, idle, done.then(() => 'done' as const)])
          clearTimeout(keepalive)
          wake = undefined
          if (why === 'done' || stream.aborted) return
          if (why === 'idle') await stream.write(': keep-alive\n\n')
        }
      } finally {
        stop()
        open--
      }
    })
  })
  return app
}
