/**
 * The control plane's state gauges, computed at scrape time from what is in memory: live host
 * records and rollouts by state, queue depths, long-polls, connections, gate blocks, readiness.
 * Invariant: reading a gauge changes nothing (scrapes run beside the mutator, not through it).
 */
import type { DispatchHub } from './dispatch-hub.ts'
import type { CpMetrics } from './metrics.ts'
import type { CpState } from './state.ts'

/** What the gauges read. */
export type GaugeSources = {
  readonly state: CpState
  readonly hub: DispatchHub
  /** Inputs waiting for the mutator. */
  readonly mutatorDepth: () => number
  /** Open client connections. */
  readonly connections: () => number
  readonly isReady: () => boolean
}

/** How many of `items` fall under each label value. */
function countBy<T>(items: Iterable<T>, label: (item: T) => string): Map<string, number> {
  const m = new Map<string, number>()
  for (const item of items) {
    const k = label(item)
    m.set(k, (m.get(k) ?? 0) + 1)
  }
  return m
}

/** Registers the CP's gauges on `metrics`. */
export function registerGauges(metrics: CpMetrics, from: GaugeSources): void {
  const { state, hub } = from
  const hostRecords = function* () {
    for (const records of Object.values(state.hosts)) yield* Object.values(records)
  }
  metrics.gauge('nixfleet_cp_hosts', 'Live host records by state.', () =>
    [...countBy(hostRecords(), (r) => r.phase)].map(([state, n]) => [{ state }, n] as const)
  )
  metrics.gauge('nixfleet_cp_rollouts', 'Rollouts by state.', () =>
    [...countBy(state.rollouts.values(), (r) => r.record.phase)].map(
      ([s, n]) => [{ state: s }, n] as const
    )
  )
  metrics.gauge('nixfleet_cp_dispatch_queue_depth', 'Queued, undelivered dispatches.', () => [
    [{}, state.dispatchDepth()],
  ])
  metrics.gauge('nixfleet_cp_reducer_queue_depth', 'Inputs waiting for the reducer.', () => [
    [{}, from.mutatorDepth()],
  ])
  metrics.gauge('nixfleet_cp_long_polls', 'Open dispatch long-polls.', () => [[{}, hub.size()]])
  metrics.gauge(
    'nixfleet_cp_long_polls_paced',
    'Long-polls past their deadline whose 204 waits for the pacer (after a stall).',
    () => [[{}, hub.pacedBacklog()]]
  )
  metrics.gauge('nixfleet_cp_connections', 'Open client connections.', () => [
    [{}, from.connections()],
  ])
  metrics.gauge('nixfleet_cp_gate_blocks', 'Hosts currently held by a gate, by gate.', () =>
    [...countBy(state.gateBlocks.values(), (g) => g.gate)].map(
      ([gate, n]) => [{ gate }, n] as const
    )
  )
  metrics.gauge(
    'nixfleet_cp_ready',
    'Whether the control plane answers /v1 (1) or 503 (0).',
    () => [[{}, from.isReady() ? 1 : 0]]
  )
}
