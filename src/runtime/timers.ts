/**
 * Injected timers, the companion of the injected clock: a shell that schedules through `Timers`
 * can be driven by `FakeTimers` in tests, which run each callback when a `FakeClock` reaches its
 * due time instead of after a real wait.
 * Invariants: a timer runs at most once, never before its due time, and never after `cancel`;
 * timers due at the same time run in the order they were set.
 */
import type { FakeClock } from './clock.ts'

/** A scheduled callback. `cancel` is harmless once it has run or was cancelled. */
export type Timer = { cancel(): void }

/** `setTimeout` / `clearTimeout`, injectable. */
export type Timers = {
  /** Runs `fn` once, `ms` milliseconds (of monotonic time) from now. */
  setTimeout(fn: () => void, ms: number): Timer
}

class RealTimer implements Timer {
  constructor(private readonly id: ReturnType<typeof setTimeout>) {}
  cancel(): void {
    clearTimeout(this.id)
  }
}

/** The real timers. */
export const systemTimers: Timers = {
  setTimeout: (fn, ms) => new RealTimer(setTimeout(fn, ms)),
}

type Pending = { readonly fn: () => void; readonly due: number; readonly order: number }

/**
 * Timers that run only when `advance` moves their clock. Moving the clock itself
 * (`clock.advance`) runs nothing, as a stalled event loop runs nothing; the next `advance`
 * then runs what fell due meanwhile, late.
 */
export class FakeTimers implements Timers {
  private readonly pending = new Set<Pending>()
  private order = 0

  constructor(private readonly clock: FakeClock) {}

  setTimeout(fn: () => void, ms: number): Timer {
    const t: Pending = { fn, due: this.clock.monotonicMs() + Math.max(0, ms), order: this.order++ }
    this.pending.add(t)
    return { cancel: () => this.pending.delete(t) }
  }

  /** The number of timers not yet run or cancelled. */
  get size(): number {
    return this.pending.size
  }

  /**
   * Moves the clock `ms` forward, running every timer due by then (including those the
   * callbacks set) in due order, each with the clock at its due time, or at the current time
   * for one already overdue.
   */
  advance(ms: number): void {
    const end = this.clock.monotonicMs() + Math.max(0, ms)
    for (;;) {
      let next: Pending | undefined
      for (const t of this.pending) {
        if (
          t.due <= end &&
          (next === undefined || t.due < next.due || (t.due === next.due && t.order < next.order))
        )
          next = t
      }
      if (next === undefined) break
      this.pending.delete(next)
      const now = this.clock.monotonicMs()
      if (next.due > now) this.clock.advance(next.due - now)
      next.fn()
    }
    const now = this.clock.monotonicMs()
    if (end > now) this.clock.advance(end - now)
  }
}
