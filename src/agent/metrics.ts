/**
 * The agent's Prometheus metrics: a tiny registry of counters and gauges rendered in the text
 * format of `runtime/prometheus.ts`, and the optional loopback listener (`--metrics-listen`).
 * Enough to see a stuck agent: last successful heartbeat, outbound queue depth, dead letters,
 * current closure, probe status, rollout state.
 * Invariants: metric and label names are stable (dashboards depend on them); label values are
 * escaped; rendering never throws.
 */
import {
  type ExpositionServer,
  exposition,
  familyHeader,
  labelText,
  type Labels,
  sampleLine,
  serveExposition,
} from '../runtime/prometheus.ts'
import { processMetricLines } from '../runtime/process-metrics.ts'

type Family = {
  readonly type: 'counter' | 'gauge'
  readonly help: string
  /** Value by label text (`labelText`), which is also how the series renders. */
  readonly series: Map<string, number>
}

/** A registry of metric families. */
export class Metrics {
  private readonly families = new Map<string, Family>()

  private family(name: string, type: 'counter' | 'gauge', help: string): Family {
    let f = this.families.get(name)
    if (!f) {
      f = { type, help, series: new Map() }
      this.families.set(name, f)
    }
    return f
  }

  /** Declares a metric so it is rendered (with no series) before its first sample. */
  declare(name: string, type: 'counter' | 'gauge', help: string): void {
    this.family(name, type, help)
  }

  /** Adds `by` to a counter. */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const f = this.family(name, 'counter', help)
    const key = labelText(labels)
    f.series.set(key, (f.series.get(key) ?? 0) + by)
  }

  /** Sets a gauge. */
  set(name: string, help: string, value: number, labels: Labels = {}): void {
    this.family(name, 'gauge', help).series.set(labelText(labels), value)
  }

  /** Replaces every series of a gauge family (for info-style gauges such as the closure). */
  replace(name: string, help: string, series: readonly { labels: Labels; value: number }[]): void {
    const f = this.family(name, 'gauge', help)
    f.series.clear()
    for (const s of series) f.series.set(labelText(s.labels), s.value)
  }

  /** The value of a series (tests and status), or `undefined`. */
  value(name: string, labels: Labels = {}): number | undefined {
    return this.families.get(name)?.series.get(labelText(labels))
  }

  /** The text exposition of every family. */
  render(): string {
    const lines: string[] = []
    for (const [name, f] of [...this.families.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      lines.push(...familyHeader(name, f.type, f.help))
      for (const [labels, value] of f.series) lines.push(sampleLine(name, labels, value))
    }
    return exposition(lines)
  }
}

/** The metric names the agent exports (one place, so docs and tests agree). */
export const M = {
  buildInfo: 'nixfleet_agent_build_info',
  lastHeartbeat: 'nixfleet_agent_last_heartbeat_success_timestamp_seconds',
  heartbeatFailures: 'nixfleet_agent_heartbeat_failures_total',
  outboundDepth: 'nixfleet_agent_outbound_queue_depth',
  eventsPosted: 'nixfleet_agent_events_posted_total',
  deadLetters: 'nixfleet_agent_dead_letters',
  deadLettered: 'nixfleet_agent_dead_lettered_total',
  currentClosure: 'nixfleet_agent_current_closure_info',
  probeStatus: 'nixfleet_agent_probe_status',
  rolloutState: 'nixfleet_agent_rollout_state_info',
  manifestRejections: 'nixfleet_agent_manifest_rejections_total',
  dispatchRefusals: 'nixfleet_agent_dispatch_refusals_total',
  anchorResets: 'nixfleet_agent_anchor_resets_total',
  lastManifest: 'nixfleet_agent_last_manifest_accepted_timestamp_seconds',
  activations: 'nixfleet_agent_activations_total',
  certNotAfter: 'nixfleet_agent_cert_not_after_timestamp_seconds',
  renewals: 'nixfleet_agent_cert_renewals_total',
  reducerErrors: 'nixfleet_agent_step_rejections_total',
  workerErrors: 'nixfleet_agent_worker_errors_total',
  prefetches: 'nixfleet_agent_prefetches_total',
  cpSwitches: 'nixfleet_agent_control_plane_switches_total',
  cpCurrent: 'nixfleet_agent_control_plane_info',
} as const

/** Declares every agent metric with its help text, so a fresh agent renders them all. */
export function declareAgentMetrics(m: Metrics, version: string): void {
  m.set(M.buildInfo, 'Agent build information.', 1, { version })
  m.declare(M.lastHeartbeat, 'gauge', 'Unix time of the last heartbeat the control plane accepted.')
  m.declare(M.heartbeatFailures, 'counter', 'Heartbeats that failed.')
  m.set(M.outboundDepth, 'Events waiting in the durable outbound queue.', 0)
  m.declare(M.eventsPosted, 'counter', 'Events the control plane accepted.')
  m.set(M.deadLetters, 'Events parked in the dead-letter folder.', 0)
  m.declare(M.deadLettered, 'counter', 'Events refused by the control plane with a 4xx.')
  m.declare(M.currentClosure, 'gauge', 'The closure /run/current-system names (value 1).')
  m.declare(M.probeStatus, 'gauge', 'Latest probe result: 1 pass, 0 fail.')
  m.declare(M.rolloutState, 'gauge', 'The state of each rollout record on this host (value 1).')
  m.declare(M.manifestRejections, 'counter', 'Signed artifacts refused, by reason.')
  m.declare(M.dispatchRefusals, 'counter', 'Dispatches refused, by reason.')
  m.declare(M.anchorResets, 'counter', 'Anti-rollback marks re-anchored on the control plane.')
  m.declare(M.lastManifest, 'gauge', 'Unix time the last signed manifest was verified.')
  m.declare(M.activations, 'counter', 'Activation and rollback outcomes.')
  m.declare(M.certNotAfter, 'gauge', 'Expiry (Unix time) of the client certificate.')
  m.declare(M.renewals, 'counter', 'Certificate renewals, by outcome.')
  m.declare(M.reducerErrors, 'counter', 'Events the state machine refused, by error.')
  m.declare(M.workerErrors, 'counter', 'Worker errors (retried after a backoff), by code.')
  m.declare(M.cpSwitches, 'counter', 'Moves from one control plane (or address) to the next.')
  m.declare(M.cpCurrent, 'gauge', 'The control plane in use (value 1).')
}

/** A running metrics listener. */
export type MetricsServer = ExpositionServer

/** Serves `GET /metrics` on `hostname:port` (loopback by convention). */
export function serveMetrics(
  metrics: Metrics,
  listen: { readonly hostname: string; readonly port: number },
  refresh: () => void
): MetricsServer {
  return serveExposition(listen, () => {
    try {
      refresh()
    } catch {
      // A failed refresh still serves the last known values.
    }
    return metrics.render() + exposition(processMetricLines())
  })
}
