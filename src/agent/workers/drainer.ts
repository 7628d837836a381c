/**
 * The outbound drainer (spec runtime.md §6.3, DECISIONS §3.11): posts queued events to
 * `POST /v1/agent/events`, rollout by rollout in seq order, when kicked or every 15 s.
 *
 * Invariants:
 * - 2xx (including the CP's 204 for an already-seen seq) ⇒ delivered.
 * - Network errors, timeouts, 5xx, 408 and 429 ⇒ the pass stops and is retried later with
 *   capped exponential backoff and jitter; the event keeps its seq (the CP deduplicates).
 * - Any other 4xx (400, 403, 409 illegal transition, …) ⇒ the event is never retried: it is
 *   parked in `dead-letter/`, logged and counted, and the rollout's later events go on.
 */
import type { AgentClient } from '../cp-client.ts'
import { describeClientError, isRetryable } from '../cp-client.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import { outboundToWire } from '../../runtime/wire.ts'
import { M, type Metrics } from '../metrics.ts'
import type { Outbox } from '../outbox.ts'
import { Backoff, Kick } from '../timing.ts'

// One event POST: the CP answers from its reducer queue in milliseconds; 10 s (the reference)
// tolerates a saturated CP without holding up shutdown's flush for long.
const POST_TIMEOUT_MS = 10_000
// First retry after 1 s, doubling up to the configured cap (60 s by default).
const BACKOFF_BASE_MS = 1_000

/** The outcome of one pass over the queue. */
export type DrainResult = {
  readonly posted: number
  readonly deadLettered: number
  readonly retry: boolean
}

/** The dependencies of the drainer. */
export type DrainerDeps = {
  readonly outbox: Outbox
  readonly client: AgentClient
  readonly machineId: string
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Metrics
  readonly intervalMs: number
  readonly backoffMaxMs: number
}

/** Posts the durable outbound queue to the CP. */
export class Drainer {
  private readonly wake = new Kick()
  private readonly backoff: Backoff
  private failingLogged = false
  /** The CP's Retry-After on its last 503/429, honoured (within the cap) by the next wait. */
  private retryAfterMs = 0

  constructor(private readonly deps: DrainerDeps) {
    this.backoff = new Backoff(BACKOFF_BASE_MS, deps.backoffMaxMs)
  }

  /** Asks for a pass as soon as possible (after any backoff in progress). */
  kick(): void {
    this.wake.kick()
  }

  /** Refreshes the queue gauges from disk. */
  refreshGauges(): void {
    this.deps.metrics.set(
      M.outboundDepth,
      'Events waiting in the durable outbound queue.',
      this.deps.outbox.depth()
    )
    this.deps.metrics.set(
      M.deadLetters,
      'Events parked in the dead-letter folder.',
      this.deps.outbox.deadLetterCount()
    )
  }

  /** One pass over every pending event; stops at the first retryable failure. */
  async drainOnce(signal?: AbortSignal, timeoutMs = POST_TIMEOUT_MS): Promise<DrainResult> {
    let posted = 0
    let deadLettered = 0
    let retry = false
    outer: for (const { rolloutId, entries } of this.deps.outbox.pending()) {
      for (const entry of entries) {
        if (signal?.aborted) {
          retry = true
          break outer
        }
        const r = await this.deps.client.postEvent(
          { hostname: this.deps.machineId, rolloutId, event: outboundToWire(entry.event) },
          { timeoutMs, signal }
        )
        if (r.ok) {
          this.deps.outbox.markSent(entry)
          posted++
          this.deps.metrics.inc(M.eventsPosted, 'Events the control plane accepted.', {
            kind: entry.kind,
          })
          continue
        }
        // A configuration error (TLS names) is the host's to fix, never the event's fault.
        if (isRetryable(r.error) || r.error.kind === 'config') {
          retry = true
          if (r.error.kind === 'status' && r.error.retryAfterSecs !== undefined) {
            this.retryAfterMs = r.error.retryAfterSecs * 1000
          }
          if (!this.failingLogged) {
            this.failingLogged = true
            this.deps.log.warn('event delivery failed; will retry', {
              rolloutId,
              seq: entry.seq,
              kind: entry.kind,
              reason: describeClientError(r.error),
            })
          }
          break outer
        }
        const status = r.error.kind === 'status' ? r.error.status : 0
        const reason = describeClientError(r.error)
        const file = this.deps.outbox.deadLetter(entry, {
          status,
          reason,
          at: this.deps.clock.now(),
        })
        deadLettered++
        this.deps.metrics.inc(M.deadLettered, 'Events refused by the control plane with a 4xx.', {
          kind: entry.kind,
          status: String(status),
        })
        this.deps.log.warn('event dead-lettered', {
          rolloutId,
          seq: entry.seq,
          kind: entry.kind,
          status,
          reason,
          file,
        })
      }
    }
    if (!retry && this.failingLogged) {
      this.failingLogged = false
      this.deps.log.info('event delivery recovered', { posted })
    }
    this.refreshGauges()
    return { posted, deadLettered, retry }
  }

  /** Drains until `signal` aborts: on kick or interval; backs off while the CP refuses. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const r = await this.drainOnce(signal)
      if (signal.aborted) break
      if (r.retry) {
        const wait = Math.min(
          Math.max(this.backoff.next(), this.retryAfterMs),
          this.deps.backoffMaxMs
        )
        this.retryAfterMs = 0
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, wait)
          function done(): void {
            clearTimeout(t)
            signal.removeEventListener('abort', done)
            resolve()
          }
          signal.addEventListener('abort', done, { once: true })
        })
        continue
      }
      this.backoff.reset()
      await this.wake.wait(this.deps.intervalMs, signal)
    }
  }
}
