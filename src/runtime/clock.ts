/**
 * The injected clock. Every shell reads time only through a `Clock`, so tests can drive time
 * with `FakeClock` instead of sleeping (Bun's `setSystemTime` does not move timers).
 */

/** Wall time and monotonic time, both in milliseconds. */
export type Clock = {
  /** Epoch milliseconds (wall clock; may jump under NTP). */
  now(): number
  /** Milliseconds from an arbitrary origin that never goes backwards. */
  monotonicMs(): number
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicMs: () => performance.now(),
}

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  private mono = 0
  constructor(private wall: number) {}
  now(): number {
    return this.wall
  }
  monotonicMs(): number {
    return this.mono
  }
  /** Moves both clocks forward by `ms`. */
  advance(ms: number): void {
    this.wall += ms
    this.mono += ms
  }
  /** Sets the wall clock (the monotonic clock is unaffected). */
  set(wallMs: number): void {
    this.wall = wallMs
  }
}
