/**
 * The control plane's state gauges, computed at scrape time from what is in memory: live host
 * records and rollouts by state, queue depths, long-polls, connections, gate blocks, readiness,
 * and the series to alert on (docs/control-plane.md, "Monitoring"): per host its last heartbeat
 * and its problem, per channel its rollout's halt, its quarantines and its artifacts' signing
 * and freshness, the expiry of the server certificate and the fleet CA, the build.
 * Invariants: reading a gauge changes nothing (scrapes run beside the mutator, not through it);
 * per-host gauges have one series per host of the adopted fleet (the problem is a label whose
 * value is `none` when nothing is wrong, value 0), per-channel ones one per channel, so the
 * series count is bounded by the fleet, never by history; label values are lowercase.
 */
import { labelWord, type Labels } from '../runtime/prometheus.ts'
import type { DispatchHub } from './dispatch-hub.ts'
import { missingByChannel } from './closures.ts'
import { lastSeenOf, problemOf } from './host-facts.ts'
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
  readonly version: string
  readonly now: () => number
  /** The agents' heartbeat interval: a host is offline after three without a word. */
  readonly heartbeatIntervalMs: number
  /** Expiry (ms) of each certificate the CP serves with or trusts, by name (`server`, `fleet-ca`). */
  readonly certNotAfter: Readonly<Record<string, number>>
  /** This replica's role and epoch, when control planes share one PostgreSQL. */
  readonly replica?:
    (() => { readonly role: 'leader' | 'follower'; readonly epoch: number }) | undefined
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
    [...countBy(hostRecords(), (r) => labelWord(r.phase))].map(
      ([state, n]) => [{ state }, n] as const
    )
  )
  metrics.gauge('nixfleet_cp_rollouts', 'Rollouts by state.', () =>
    [...countBy(state.rollouts.values(), (r) => labelWord(r.record.phase))].map(
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
  const replica = from.replica
  if (replica !== undefined) {
    metrics.gauge('nixfleet_cp_leader', '1 on the replica that leads, 0 on a follower.', () => [
      [{}, replica().role === 'leader' ? 1 : 0],
    ])
    metrics.gauge(
      'nixfleet_cp_fence_epoch',
      "The leader's fencing epoch (as last seen, on a follower).",
      () => [[{}, replica().epoch]]
    )
  }
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
  registerAlertGauges(metrics, from)
}

const secs = (ms: number): number => ms / 1000

/** The gauges the shipped alerting rules read (contrib/prometheus/nixfleet.rules.yml). */
function registerAlertGauges(metrics: CpMetrics, from: GaugeSources): void {
  const { state } = from
  const fleetHosts = () => Object.entries(state.release?.fleet.value.hosts ?? {})
  const channels = () => Object.keys(state.release?.fleet.value.channels ?? {}).sort()
  metrics.gauge('nixfleet_cp_build_info', 'Control plane build information (value 1).', () => [
    [{ version: from.version }, 1],
  ])
  metrics.gauge(
    'nixfleet_cp_host_last_seen_timestamp_seconds',
    'Unix time the CP last heard from each host (kept across CP restarts; hosts never heard from have none).',
    function* () {
      for (const [host, h] of fleetHosts()) {
        const seen = lastSeenOf(state, host)
        if (seen !== null) yield [{ host, channel: h.channel }, secs(seen)] as const
      }
    }
  )
  metrics.gauge(
    'nixfleet_cp_host_problem',
    'Whether a host has a problem (1, named by the problem label) or none (0, problem="none").',
    function* () {
      const now = from.now()
      for (const [host, h] of fleetHosts()) {
        const problem = problemOf(state, host, now, from.heartbeatIntervalMs)?.kind
        yield [{ host, channel: h.channel, problem: problem ?? 'none' }, problem ? 1 : 0] as const
      }
    }
  )
  metrics.gauge(
    'nixfleet_cp_closures_missing',
    'Hosts of each channel waiting for a target closure the binary cache does not have (0 when the CP checks no cache).',
    () => [...missingByChannel(state)].map(([channel, n]) => [{ channel }, n] as const)
  )
  metrics.gauge(
    'nixfleet_cp_rollout_halted',
    "Whether each channel's current rollout is halted by a host failure (1) or not (0).",
    function* () {
      for (const channel of channels()) {
        const id = state.release?.manifests[channel]?.rolloutId
        const r = id === undefined ? undefined : state.rollouts.get(id)
        if (id !== undefined) yield [{ channel, rollout: id }, r?.record.halt ? 1 : 0] as const
      }
    }
  )
  metrics.gauge(
    'nixfleet_cp_quarantined_closures',
    'Closures quarantined on each channel (an operator clears them).',
    () => channels().map((channel) => [{ channel }, state.quarantines.get(channel)?.size ?? 0])
  )
  const artifacts = function* (): Generator<{
    labels: Labels
    signedAtMs: number
    freshMinutes: number | undefined
  }> {
    const release = state.release
    if (release === undefined) return
    const fleet = release.fleet.value
    for (const channel of channels()) {
      const freshMinutes = fleet.channels[channel as never]?.freshnessWindow
      yield {
        labels: { artifact: 'fleet', channel },
        signedAtMs: release.fleet.signedAtMs,
        freshMinutes,
      }
      const m = release.manifests[channel]
      if (m !== undefined)
        yield {
          labels: { artifact: 'rollout-manifest', channel },
          signedAtMs: m.signedAtMs,
          freshMinutes,
        }
    }
    for (const [artifact, a] of [
      ['revocations', state.revocationsAdopted],
      ['bootstrap-nonces', state.noncesAdopted],
    ] as const) {
      if (a !== undefined)
        yield {
          labels: { artifact, channel: '' },
          signedAtMs: a.signedAtMs,
          freshMinutes: undefined,
        }
    }
  }
  metrics.gauge(
    'nixfleet_cp_artifact_signed_timestamp_seconds',
    'Unix time the adopted signed artifact was signed, by artifact and channel.',
    function* () {
      for (const a of artifacts()) yield [a.labels, secs(a.signedAtMs)] as const
    }
  )
  metrics.gauge(
    'nixfleet_cp_artifact_fresh_until_timestamp_seconds',
    "Unix time after which agents refuse the adopted artifact as stale (the channel's freshness window): re-sign before.",
    function* () {
      for (const a of artifacts())
        if (a.freshMinutes !== undefined)
          yield [a.labels, secs(a.signedAtMs + a.freshMinutes * 60_000)] as const
    }
  )
  metrics.gauge(
    'nixfleet_cp_cert_not_after_timestamp_seconds',
    'Expiry (Unix time) of the server certificate and the fleet CA.',
    () => Object.entries(from.certNotAfter).map(([cert, ms]) => [{ cert }, secs(ms)] as const)
  )
}
