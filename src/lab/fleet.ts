/**
 * The fleet.resolved of a lab fleet (demo and end-to-end suite): channels, hosts with their SSH
 * public keys, rollout policies with waves, host and channel edges, and disruption budgets —
 * the same shape `nix eval .#fleet.resolved` produces for a real fleet. Pure.
 */
import type { JsonValue } from '../crypto/canonical-json.ts'

/** One host of a lab fleet. */
export type LabHost = {
  readonly name: string
  readonly channel: string
  readonly tags?: readonly string[]
  /** The host's wave within its channel (0 = canary). */
  readonly wave: number
  /** The `ssh-ed25519 AAAA…` public line of its host key. */
  readonly pubkey: string
}

/** One channel of a lab fleet. */
export type LabChannel = {
  readonly name: string
  /** Soak per wave in minutes (index = wave). */
  readonly soakMinutes: readonly number[]
  readonly onHealthFailure: 'halt' | 'rollback-and-halt'
  readonly sustainedFailureSecs?: number
  /** Minutes; the channel's signed freshness window. */
  readonly freshnessWindow?: number
}

/** A whole lab fleet. */
export type LabFleetSpec = {
  readonly channels: readonly LabChannel[]
  readonly hosts: readonly LabHost[]
  /** `[gates, gated]`: `gated` opens only once `gates` is done. */
  readonly channelEdges?: readonly (readonly [string, string])[]
  /** `[gates, gated]` host pairs within a channel. */
  readonly hostEdges?: readonly (readonly [string, string])[]
  readonly budgets?: readonly { readonly tags: readonly string[]; readonly maxInFlight: number }[]
}

const selector = (o: Record<string, JsonValue>): JsonValue => ({
  all: false,
  channel: null,
  hosts: [],
  tags: [],
  tagsAny: [],
  ...o,
})

/** The unsigned fleet.resolved JSON of `spec` (closures are injected by `nixfleet release`). */
export function labFleetJson(spec: LabFleetSpec): JsonValue {
  const hosts: Record<string, JsonValue> = {}
  for (const h of [...spec.hosts].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    hosts[h.name] = {
      platform: 'x86_64-linux',
      tags: [...(h.tags ?? []), `wave-${h.wave}`],
      channel: h.channel,
      closureHash: null,
      pubkey: h.pubkey,
    }
  }
  const channels: Record<string, JsonValue> = {}
  const policies: Record<string, JsonValue> = {}
  const waves: Record<string, JsonValue> = {}
  for (const c of spec.channels) {
    const freshnessWindow = c.freshnessWindow ?? 1440
    channels[c.name] = {
      rolloutPolicy: c.name,
      reconcileIntervalMinutes: 30,
      freshnessWindow,
      // `nixfleet release` refuses a window shorter than two signing intervals, as mkFleet does.
      signingIntervalMinutes: Math.min(60, Math.floor(freshnessWindow / 2)),
    }
    policies[c.name] = {
      strategy: c.soakMinutes.length > 1 ? 'canary' : 'all-at-once',
      waves: c.soakMinutes.map((soak, i) => ({
        selector: selector({ tags: [`wave-${i}`] }),
        soakMinutes: soak,
      })),
      healthGate:
        c.sustainedFailureSecs !== undefined
          ? { sustainedFailureSecs: c.sustainedFailureSecs }
          : {},
      onHealthFailure: c.onHealthFailure,
    }
    waves[c.name] = c.soakMinutes.map((soak, i) => ({
      hosts: spec.hosts
        .filter((h) => h.channel === c.name && h.wave === i)
        .map((h) => h.name)
        .sort(),
      soakMinutes: soak,
    }))
  }
  return {
    schemaVersion: 1,
    hosts,
    channels,
    rolloutPolicies: policies,
    waves,
    edges: (spec.hostEdges ?? []).map(([gates, gated]) => ({ gates, gated, reason: null })),
    channelEdges: (spec.channelEdges ?? []).map(([gates, gated]) => ({
      gates,
      gated,
      reason: `${gates} proves a release before ${gated}`,
    })),
    disruptionBudgets: (spec.budgets ?? []).map((b) => ({
      selector: selector({ tags: [...b.tags] }),
      maxInFlight: b.maxInFlight,
      maxInFlightPct: null,
    })),
    meta: { schemaVersion: 1, signedAt: null, ciCommit: null },
  }
}
