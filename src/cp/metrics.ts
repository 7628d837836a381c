/**
 * The control plane's Prometheus metrics: counters, gauges (computed at scrape time) and
 * histograms with fixed buckets, written in the text format of `runtime/prometheus.ts`.
 * Invariants: label values come from our own vocabulary (routes, states, gates, error kinds),
 * never from request input, so the series count stays bounded.
 */
import type { VerifyErrorKind } from '../crypto/verify-artifact.ts'
import {
  exposition,
  familyHeader,
  formatValue,
  labelText,
  labelWord,
  type Labels,
  sampleLine,
  withLabel,
} from '../runtime/prometheus.ts'
import { processMetricLines } from '../runtime/process-metrics.ts'

/** A monotonically increasing counter with labels. */
export class Counter {
  private readonly values = new Map<string, number>()
  constructor(
    readonly name: string,
    readonly help: string
  ) {}
  /** Adds `n` (default 1) to the series of `labels`. */
  inc(labels: Labels = {}, n = 1): void {
    const k = labelText(labels)
    this.values.set(k, (this.values.get(k) ?? 0) + n)
  }
  /** The value of one series (tests). */
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels)) ?? 0
  }
  render(): string[] {
    const out: string[] = familyHeader(this.name, 'counter', this.help)
    for (const [k, v] of this.values) out.push(sampleLine(this.name, k, v))
    return out
  }
}

/** A gauge whose series are computed when scraped. */
class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: () => Iterable<readonly [Labels, number]>
  ) {}
  render(): string[] {
    const out: string[] = familyHeader(this.name, 'gauge', this.help)
    for (const [labels, v] of this.collect()) out.push(sampleLine(this.name, labelText(labels), v))
    return out
  }
}

/** A histogram with fixed upper bounds (seconds). */
export class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[]
  ) {}
  /** Records one observation of `value` seconds. */
  observe(value: number, labels: Labels = {}): void {
    const k = labelText(labels)
    let s = this.series.get(k)
    if (s === undefined) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }
      this.series.set(k, s)
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++
    s.sum += value
    s.count++
  }
  /** The number of observations of one series (tests). */
  count(labels: Labels = {}): number {
    return this.series.get(labelText(labels))?.count ?? 0
  }
  render(): string[] {
    const out: string[] = familyHeader(this.name, 'histogram', this.help)
    for (const [k, s] of this.series) {
      const bucket = (le: number, n: number) =>
        out.push(sampleLine(`${this.name}_bucket`, withLabel(k, 'le', formatValue(le)), n))
      this.buckets.forEach((b, i) => bucket(b, s.counts[i]!))
      bucket(Infinity, s.count)
      out.push(sampleLine(`${this.name}_sum`, k, s.sum))
      out.push(sampleLine(`${this.name}_count`, k, s.count))
    }
    return out
  }
}

// The signed artifacts the CP verifies, and why one can be refused (verification, or an older
// artifact than the adopted one).
const VERIFIED_ARTIFACTS = ['fleet', 'rollout-manifest', 'revocations', 'bootstrap-nonces']
const VERIFY_FAILURE_KINDS: readonly (VerifyErrorKind | 'Rollback')[] = [
  'Parse',
  'BadSignature',
  'NotSigned',
  'Stale',
  'FutureDated',
  'RejectedBeforeTimestamp',
  'SchemaVersionUnsupported',
  'UnsupportedAlgorithm',
  'BadPubkeyEncoding',
  'NoTrustRoots',
  'Rollback',
]

// Request latencies span sub-millisecond heartbeats to 60 s long-polls.
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 65]
// Reducer inputs take microseconds (a heartbeat) to a second (opening a 10k-host rollout).
const REDUCER_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]

/** Every metric of the control plane. */
export class CpMetrics {
  readonly httpRequests = new Counter(
    'nixfleet_cp_http_requests_total',
    'HTTP requests by route and status.'
  )
  readonly httpLatency = new Histogram(
    'nixfleet_cp_http_request_duration_seconds',
    'HTTP request latency by route.',
    HTTP_BUCKETS
  )
  readonly reducerLatency = new Histogram(
    'nixfleet_cp_reducer_input_duration_seconds',
    'Time the reducer spent on one input, by input type.',
    REDUCER_BUCKETS
  )
  readonly reducerWait = new Histogram(
    'nixfleet_cp_reducer_queue_wait_seconds',
    'Time an input waited in the reducer queue.',
    REDUCER_BUCKETS
  )
  readonly followerRefresh = new Histogram(
    'nixfleet_cp_follower_refresh_seconds',
    'Time a follower replica took to refresh its state from the database, by kind (quick, full).',
    REDUCER_BUCKETS
  )
  readonly reducerRejected = new Counter(
    'nixfleet_cp_reducer_rejected_total',
    'Inputs refused because the reducer queue was full or closed.'
  )
  readonly verifyFailures = new Counter(
    'nixfleet_cp_verify_failures_total',
    'Signed artifacts refused, by artifact and kind (Rollback included).'
  )
  readonly gateDecisions = new Counter(
    'nixfleet_cp_gate_decisions_total',
    'Gate blocks recorded (debounced: one per change of the gate holding a host), by gate.'
  )
  readonly dispatchesQueued = new Counter(
    'nixfleet_cp_dispatches_queued_total',
    'Dispatches queued.'
  )
  readonly dispatchesDelivered = new Counter(
    'nixfleet_cp_dispatches_delivered_total',
    'Dispatches delivered.'
  )
  readonly synthesized = new Counter(
    'nixfleet_cp_synthesized_events_total',
    'Host events the CP synthesized from heartbeats, by kind.'
  )
  readonly enrollments = new Counter(
    'nixfleet_cp_certificates_issued_total',
    'Certificates issued, by context.'
  )
  readonly loopLag = new Histogram(
    'nixfleet_cp_event_loop_lag_seconds',
    'How late a 50 ms timer fired: time the process could not serve sockets.',
    REDUCER_BUCKETS
  )
  readonly logSuppressed = new Counter(
    'nixfleet_cp_log_lines_suppressed_total',
    'Log lines not written because an identical one was logged within the interval.'
  )
  readonly eventsRateLimited = new Counter(
    'nixfleet_cp_events_rate_limited_total',
    'Agent events refused with 429 because their host exceeded its event rate.'
  )
  readonly eventsTruncated = new Counter(
    'nixfleet_cp_events_truncated_total',
    'Agent events stored with a text field cut to the size limit, by kind.'
  )
  readonly prefetched = new Counter(
    'nixfleet_cp_closures_prefetched_total',
    'Target closures agents reported realised ahead of time, by whether their dispatch had been sent (before_dispatch="true" when the host was still waiting for its wave).'
  )
  readonly eventsTooLarge = new Counter(
    'nixfleet_cp_events_too_large_total',
    'Agent events refused with 413 because they exceeded the stored size limit, by kind.'
  )
  readonly probeResultsPruned = new Counter(
    'nixfleet_cp_probe_results_pruned_total',
    'Older probe results deleted from the event log by the per-host retention.'
  )
  readonly connectionsRefused = new Counter(
    'nixfleet_cp_connections_refused_total',
    'Connections closed by a listener limit, by reason.'
  )
  private readonly gauges: Gauge[] = []

  constructor() {
    // Counters alerts read exist at 0 from the start, so `increase()` sees the first refusal.
    for (const artifact of VERIFIED_ARTIFACTS)
      for (const kind of VERIFY_FAILURE_KINDS)
        this.verifyFailures.inc({ artifact, kind: labelWord(kind) }, 0)
  }

  /** Registers a gauge computed at scrape time. */
  gauge(name: string, help: string, collect: () => Iterable<readonly [Labels, number]>): void {
    this.gauges.push(new Gauge(name, help, collect))
  }

  /** The exposition text. */
  render(): string {
    const all = [
      ...this.gauges.flatMap((g) => g.render()),
      ...this.httpRequests.render(),
      ...this.httpLatency.render(),
      ...this.reducerLatency.render(),
      ...this.reducerWait.render(),
      ...this.followerRefresh.render(),
      ...this.reducerRejected.render(),
      ...this.verifyFailures.render(),
      ...this.gateDecisions.render(),
      ...this.loopLag.render(),
      ...this.dispatchesQueued.render(),
      ...this.dispatchesDelivered.render(),
      ...this.synthesized.render(),
      ...this.enrollments.render(),
      ...this.logSuppressed.render(),
      ...this.eventsRateLimited.render(),
      ...this.eventsTruncated.render(),
      ...this.eventsTooLarge.render(),
      ...this.prefetched.render(),
      ...this.probeResultsPruned.render(),
      ...this.connectionsRefused.render(),
      ...processMetricLines(),
    ]
    return exposition(all)
  }
}
