/**
 * Test fixtures for the planner: small declarative worlds (channels with waves, budgets and
 * edges) turned into a `ManifestSet`, and fleet states over them. Pure data; tests only.
 */
import type { HostPhase } from '../host/state.ts'
import type {
  ChannelEdge,
  DisruptionBudget,
  HostEdge,
  ManifestSet,
  RolloutManifest,
  Selector,
} from '../types.ts'
import { rolloutIdOf } from '../types.ts'
import type { FleetState, HostRecordView, RolloutView } from './types.ts'

/** One channel of a test world. */
export type ChannelSpec = {
  /** The waves' host lists; omitted ⇒ the channel is not staged. */
  readonly waves?: readonly (readonly string[])[]
  /** Hosts of the channel in no wave. */
  readonly unstaged?: readonly string[]
  readonly ref?: string
  readonly budgets?: readonly DisruptionBudget[]
  /** The manifest's hostSet order (default: sorted, as producers emit it). */
  readonly hostOrder?: readonly string[]
}

/** The closure a host targets in the test worlds. */
export function closureOf(host: string, ref = 'r1'): string {
  return `sys-${host}-${ref}`
}

/** A budget over `hosts` with the `all` selector unless another is given. */
export function budget(
  hosts: readonly string[],
  maxInFlight: number | null,
  maxInFlightPct: number | null = null,
  selector: Selector = { all: true, tags: [], tagsAny: [], hosts: [], channel: null }
): DisruptionBudget {
  return { selector, hosts: [...hosts].sort(), maxInFlight, maxInFlightPct }
}

/** The manifests of a world. */
export function world(
  channels: Readonly<Record<string, ChannelSpec>>,
  extra: {
    readonly edges?: readonly HostEdge[]
    readonly channelEdges?: readonly ChannelEdge[]
  } = {}
): ManifestSet {
  const hosts: Record<string, { channel: string }> = {}
  const waves: Record<string, { hosts: readonly string[]; soakMinutes: number }[]> = {}
  const rollouts: Record<string, RolloutManifest> = {}
  for (const [channel, spec] of Object.entries(channels)) {
    const staged = spec.waves ?? []
    const members = [...staged.flat(), ...(spec.unstaged ?? [])]
    for (const h of members) hosts[h] = { channel }
    waves[channel] = staged.map((w) => ({ hosts: [...w].sort(), soakMinutes: 5 }))
    const ref = spec.ref ?? 'r1'
    const order = spec.hostOrder ?? [...new Set(members)].sort()
    rollouts[channel] = {
      channel,
      channelRef: ref,
      hostSet: order.map((hostname) => ({
        hostname,
        waveIndex: Math.max(
          0,
          staged.findIndex((w) => w.includes(hostname))
        ),
        targetClosure: closureOf(hostname, ref),
      })),
      disruptionBudgets: spec.budgets ?? [],
    }
  }
  const policies = { p: { strategy: 'canary', waves: [], onHealthFailure: 'halt' as const } }
  const channelMap = Object.fromEntries(
    Object.keys(channels).map((c) => [c, { rolloutPolicy: 'p' }])
  )
  return {
    fleet: {
      hosts,
      channels: channelMap,
      rolloutPolicies: policies,
      waves,
      edges: extra.edges ?? [],
      channelEdges: extra.channelEdges ?? [],
    },
    rollouts,
  }
}

/** The options of `opened`. */
export type OpenedOptions = {
  /** Host phases by hostname (default Pending, unacknowledged). */
  readonly phases?: Readonly<Record<string, HostPhase>>
  /** Pending hosts whose dispatch was already acknowledged. */
  readonly acked?: readonly string[]
  /** Per-channel overrides of the rollout view. */
  readonly rollouts?: Readonly<Record<string, Partial<RolloutView>>>
  /** Channels whose rollout is not opened yet. */
  readonly unopened?: readonly string[]
}

/** The fleet state in which every channel of `ms` has an open, Active rollout at wave 0. */
export function opened(ms: ManifestSet, opts: OpenedOptions = {}): FleetState {
  const rollouts: Record<string, RolloutView> = {}
  const hosts: Record<string, Record<string, HostRecordView>> = {}
  for (const [channel, m] of Object.entries(ms.rollouts)) {
    if (opts.unopened?.includes(channel)) continue
    const rolloutId = rolloutIdOf(channel, m.channelRef)
    rollouts[rolloutId] = {
      rolloutId,
      channel,
      phase: 'Active',
      currentWave: 0,
      halt: null,
      ...opts.rollouts?.[channel],
    }
    hosts[rolloutId] = Object.fromEntries(
      m.hostSet.map((e) => [
        e.hostname,
        {
          hostname: e.hostname,
          phase: opts.phases?.[e.hostname] ?? 'Pending',
          targetClosure: e.targetClosure,
          dispatchAckedAt: opts.acked?.includes(e.hostname) ? 1 : null,
        },
      ])
    )
  }
  return { rollouts, hosts }
}

/** `ms` with `channel`'s manifest opting in to `healthGate.deferredCountsAsDone`. */
export function deferredCountsAsDone(ms: ManifestSet, channel: string): ManifestSet {
  const m = ms.rollouts[channel]
  if (m === undefined) throw new Error(`no manifest for ${channel}`)
  return {
    ...ms,
    rollouts: { ...ms.rollouts, [channel]: { ...m, healthGate: { deferredCountsAsDone: true } } },
  }
}
