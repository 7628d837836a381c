/**
 * Waiting primitives for the agent's workers: a cancellable sleep, injectable timers, and a capped exponential
 * backoff with jitter, so a fleet of agents does not hammer a recovering control plane in
 * lockstep. Invariant: every wait ends early when the worker's signal aborts (shutdown).
 */

import { systemClock } from '../runtime/clock.ts'

/** Sleeps `ms`, or less if `signal` aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, Math.max(0, ms))
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * Time as a deadline loop sees it: a monotonic clock and a cancellable sleep. Injected where a
 * loop waits out a deadline (the activation pipeline), so tests drive the deadline instead of
 * waiting for it.
 */
export type Timers = {
  readonly monotonicMs: () => number
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
}

/** Real time. */
export const systemTimers: Timers = { monotonicMs: () => systemClock.monotonicMs(), sleep }

/** Timers whose sleep moves a fake monotonic clock at once (tests): deadlines pass at once. */
export function steppingTimers(): Timers & { readonly elapsed: () => number } {
  let now = 0
  return {
    monotonicMs: () => now,
    sleep: async (ms) => {
      now += Math.max(0, ms)
    },
    elapsed: () => now,
  }
}

/** A wake-up that coalesces many `kick()`s into one and can be awaited with a timeout. */
export class Kick {
  private pending = false
  private waiter: (() => void) | undefined

  /** Wakes the waiter (or makes the next wait return at once). */
  kick(): void {
    this.pending = true
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  /** Waits for a kick, `ms`, or `signal`, whichever comes first. */
  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.pending) {
      this.pending = false
      return
    }
    await new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const finish = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', finish)
        if (this.waiter === finish) this.waiter = undefined
        resolve()
      }
      timer = setTimeout(finish, Math.max(0, ms))
      this.waiter = finish
      if (signal?.aborted) return finish()
      signal?.addEventListener('abort', finish, { once: true })
    })
    this.pending = false
  }
}

/**
 * Capped exponential backoff with jitter: attempt n waits a random time in
 * [½·d, d] where d = min(cap, base·2ⁿ). Half the delay is kept so retries still spread out
 * over time; the random half de-synchronises a fleet after a CP outage.
 */
export class Backoff {
  private attempt = 0

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number = Math.random
  ) {}

  /** The delay before the next retry (and counts the attempt). */
  next(): number {
    const d = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30))
    this.attempt++
    return Math.round(d / 2 + (this.random() * d) / 2)
  }

  /** Forgets past failures after a success. */
  reset(): void {
    this.attempt = 0
  }

  /** The number of consecutive failures. */
  get failures(): number {
    return this.attempt
  }
}
