/**
 * Wake-ups for long-polls (`GET /v1/agent/dispatch?wait=N`): in-memory waiters per host, woken
 * by the applier right after a transaction that queued a dispatch for that host commits — no
 * polling, so a dispatch reaches a parked agent within milliseconds.
 *
 * Timeouts are paced. Each 204 brings that agent's next request at once (its next long-poll,
 * and its heartbeat where an agent chains the two), so deadlines that pass together (a stall of
 * the process: a GC cycle, a release being verified, a burst of TLS handshakes) would bring
 * back a wave of requests together, and the wave's own queueing would line up the next round:
 * a fleet that stays in waves however fast each request is. At
 * most `max(minPerSlot, 2 × expected)` waits time out per slot, where `expected` is what the
 * parked waits add up to (Σ slot/timeout); the rest follow in later slots, oldest first, and
 * none later than `maxDelayMs` after its deadline. Notifications are never paced.
 *
 * Invariants: a waiter resolves exactly once ('notified', 'timeout' or 'closed'); `close()`
 * resolves every waiter and every later `wait` at once, so shutdown ends open long-polls.
 * Time and timers are injected, so tests drive the pacer with a fake clock instead of stalling.
 */

import type { Clock } from '../runtime/clock.ts'
import { BoundedQueue } from '../runtime/queue.ts'
import type { Timer, Timers } from '../runtime/timers.ts'

/** Why a wait ended. */
export type WakeReason = 'notified' | 'timeout' | 'closed'

/** Pacing of timeouts (see the module header). */
export type PaceOptions = {
  readonly slotMs: number
  readonly minPerSlot: number
  readonly maxDelayMs: number
}

// 500 timeouts a second are never paced, so small fleets never see it. 2 s of extra delay at
// most: agents give a long-poll its wait plus 5 s (the reference's 65 s for wait=60).
const DEFAULT_PACE: PaceOptions = { slotMs: 100, minPerSlot: 50, maxDelayMs: 2_000 }
// Released in ten steps per slot, so a slot's budget is not spent in one burst either.
const STEPS_PER_SLOT = 10
// At most one entry per open long-poll, and the process's file-descriptor limit keeps those far
// below this; were it ever full, a wait would time out unpaced rather than be lost.
const EXPIRED_CAPACITY = 1_000_000

type Waiter = {
  readonly finish: (why: WakeReason) => void
  /** This waiter's expected share of timeouts per slot (slot / timeout). */
  readonly rate: number
  dueAt: number
  done: boolean
  /** Past its deadline and waiting for the pacer. */
  queued: boolean
}

/** Where the hub reads time and sets its timers (the real ones in production). */
export type HubTime = { readonly clock: Clock; readonly timers: Timers }

/** The per-host long-poll waiters. */
export class DispatchHub {
  private readonly waiters = new Map<string, Set<Waiter>>()
  private readonly pace: PaceOptions
  private closed = false
  /** Σ rate over parked waiters: the timeouts per slot the fleet produces when spread out. */
  private expectedPerSlot = 0
  /** Waits whose deadline passed, oldest first (some may have ended since). */
  private readonly expired = new BoundedQueue<Waiter>(EXPIRED_CAPACITY)
  /** How many of `expired` have not ended yet. */
  private backlog = 0
  private pacer: Timer | undefined
  private tokens = 0
  private refilledAt: number

  constructor(
    private readonly time: HubTime,
    pace: Partial<PaceOptions> = {}
  ) {
    this.pace = { ...DEFAULT_PACE, ...pace }
    this.refilledAt = time.clock.monotonicMs()
  }

  /** Waits until `host` is notified, `timeoutMs` passes, `signal` aborts or the hub closes. */
  wait(host: string, timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (this.closed || signal?.aborted) return Promise.resolve('closed')
    return new Promise((resolve) => {
      let set = this.waiters.get(host)
      if (set === undefined) this.waiters.set(host, (set = new Set()))
      const ms = Math.max(0, timeoutMs)
      const w: Waiter = {
        finish: (why) => {
          if (w.done) return
          w.done = true
          if (w.queued) this.backlog--
          timer.cancel()
          signal?.removeEventListener('abort', onAbort)
          this.expectedPerSlot -= w.rate
          const s = this.waiters.get(host)
          s?.delete(w)
          if (s?.size === 0) this.waiters.delete(host)
          // A sum of floats kept over millions of waits drifts; none parked means exactly zero.
          if (this.waiters.size === 0) this.expectedPerSlot = 0
          resolve(why)
        },
        rate: this.pace.slotMs / Math.max(ms, this.pace.slotMs),
        dueAt: 0,
        done: false,
        queued: false,
      }
      const onAbort = (): void => w.finish('closed')
      const timer = this.time.timers.setTimeout(() => this.expire(w), ms)
      this.expectedPerSlot += w.rate
      signal?.addEventListener('abort', onAbort, { once: true })
      set.add(w)
    })
  }

  /** Wakes every waiter of `host`. */
  notify(host: string): void {
    const set = this.waiters.get(host)
    if (set === undefined) return
    for (const w of [...set]) w.finish('notified')
  }

  /** The number of parked long-polls. */
  size(): number {
    let n = 0
    for (const s of this.waiters.values()) n += s.size
    return n
  }

  /** The number of long-polls past their deadline, waiting for the pacer. */
  pacedBacklog(): number {
    return this.backlog
  }

  /** Ends every wait now and refuses new ones (shutdown). */
  close(): void {
    this.closed = true
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.finish('closed')
    this.pacer?.cancel()
    this.pacer = undefined
    this.expired.close()
  }

  private expire(w: Waiter): void {
    w.dueAt = this.time.clock.monotonicMs()
    if (!this.expired.tryPush(w)) return w.finish('timeout')
    w.queued = true
    this.backlog++
    this.release()
  }

  /**
   * Times out as many expired waits as the budget allows: a token bucket filled at `perSlot`
   * per slot and holding at most one step's share, so neither a slot nor a step is spent in one
   * burst. Runs again, one step later, while any are left.
   */
  private release(): void {
    const { slotMs, minPerSlot, maxDelayMs } = this.pace
    const now = this.time.clock.monotonicMs()
    const perSlot = Math.max(minPerSlot, Math.ceil(2 * this.expectedPerSlot))
    const cap = Math.max(1, perSlot / STEPS_PER_SLOT)
    this.tokens = Math.min(cap, this.tokens + ((now - this.refilledAt) * perSlot) / slotMs)
    this.refilledAt = now
    const overdue = now - maxDelayMs
    for (let w = this.expired.peek(); w !== undefined; w = this.expired.peek()) {
      if (!w.done) {
        if (this.tokens < 1 && w.dueAt > overdue) break
        this.tokens = Math.max(0, this.tokens - 1)
        w.finish('timeout')
      }
      this.expired.tryPull()
    }
    if (this.expired.size === 0) return
    if (this.pacer === undefined) {
      this.pacer = this.time.timers.setTimeout(() => {
        this.pacer = undefined
        this.release()
      }, slotMs / STEPS_PER_SLOT)
    }
  }
}
