/**
 * The event-loop lag probe. Every request waits while the one thread is busy; a lag histogram
 * shows stalls that no per-route latency (measured inside the handler) can. It samples how late
 * a fixed timer fires. Invariant: unref'd, so it never keeps a process up by itself.
 */
import type { Clock } from '../../runtime/clock.ts'
import type { CpMetrics } from '../metrics.ts'
import { every, type Worker } from './every.ts'

// Fine enough to see a stall of tens of milliseconds, at 20 timer callbacks a second.
const LAG_SAMPLE_MS = 50

/** Starts sampling the loop lag into `metrics.loopLag`. */
export function startLoopLag(clock: Clock, metrics: CpMetrics): Worker {
  let lagFrom = clock.monotonicMs()
  return every(
    LAG_SAMPLE_MS,
    () => {
      const t = clock.monotonicMs()
      metrics.loopLag.observe(Math.max(0, t - lagFrom - LAG_SAMPLE_MS) / 1000)
      lagFrom = t
    },
    { unref: true }
  )
}
