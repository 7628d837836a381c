/**
 * The structural inputs core reads from the signed artifacts: the parts of `fleet.resolved`
 * and of a per-channel rollout manifest that the state machines and the planner need, with the
 * wire field names (camelCase, protocol §3.1–3.2).
 *
 * Invariants:
 * - These are *structural* types: the valibot output types of `src/proto` (branded ids, extra
 *   fields) must stay assignable to them, so fields are readonly and optional members accept
 *   both absence and `null`. Core never imports proto at runtime.
 * - Everything is plain JSON data (records and arrays, no Map/Set/Date), like all core values.
 */

/** The action a host failure triggers (kebab-case as on the wire). */
export type OnHealthFailure = 'halt' | 'rollback-and-halt'

/**
 * The host selector: with `not` set it matches the hosts `not` does not; else with `and`
 * non-empty the hosts every selector in it matches; else the hosts any other rule fires for.
 */
export type Selector = {
  readonly tags?: readonly string[] | undefined
  readonly tagsAny?: readonly string[] | undefined
  readonly hosts?: readonly string[] | undefined
  readonly channel?: string | null | undefined
  readonly all?: boolean | undefined
  readonly and?: readonly Selector[] | undefined
  readonly not?: Selector | null | undefined
}

/** The fleet host fields core reads. */
export type FleetHost = {
  readonly channel: string
}

/** The channel fields core reads. */
export type FleetChannel = {
  readonly rolloutPolicy: string
}

/** The wave of a rollout policy. */
export type PolicyWave = {
  readonly soakMinutes: number
}

/** The rollout policy fields core reads. `healthGate` is free-form attrs on the wire. */
export type RolloutPolicy = {
  readonly strategy?: string | undefined
  readonly waves: readonly PolicyWave[]
  readonly healthGate?: unknown
  readonly onHealthFailure: OnHealthFailure
}

/** The resolved per-channel wave: host list pre-resolved by CI. */
export type ResolvedWave = {
  readonly hosts: readonly string[]
  readonly soakMinutes: number
}

/** The host edge: `gated` waits until `gates` is Converged or Deferred (same channel). */
export type HostEdge = {
  readonly gated: string
  readonly gates: string
  readonly reason?: string | null | undefined
}

/** The channel edge: `gated`'s rollout waits until `gates`'s rollout is Terminal. */
export type ChannelEdge = {
  readonly gates: string
  readonly gated: string
  readonly reason?: string | null | undefined
}

/** The parts of the verified `fleet.resolved` core reads (proto's `FleetResolved` is the whole wire form). */
export type FleetView = {
  readonly hosts: Readonly<Record<string, FleetHost>>
  readonly channels: Readonly<Record<string, FleetChannel>>
  readonly rolloutPolicies: Readonly<Record<string, RolloutPolicy>>
  readonly waves: Readonly<Record<string, readonly ResolvedWave[]>>
  readonly edges: readonly HostEdge[]
  readonly channelEdges: readonly ChannelEdge[]
}

/** The rollout manifest's entry for one host. */
export type HostSetEntry = {
  readonly hostname: string
  readonly waveIndex: number
  readonly targetClosure: string
}

/** The disruption budget frozen into a rollout manifest (selector resolved to `hosts`). */
export type DisruptionBudget = {
  readonly selector: Selector
  readonly hosts: readonly string[]
  readonly maxInFlight?: number | null | undefined
  readonly maxInFlightPct?: number | null | undefined
}

/** The parts of a verified per-channel rollout manifest core reads. */
export type RolloutManifest = {
  readonly channel: string
  readonly channelRef: string
  readonly hostSet: readonly HostSetEntry[]
  readonly disruptionBudgets: readonly DisruptionBudget[]
  readonly healthGate?: unknown
}

/** The verified artifacts the planner works from: the fleet and one manifest per channel. */
export type ManifestSet = {
  readonly fleet: FleetView
  /** The rollout manifests keyed by channel name. */
  readonly rollouts: Readonly<Record<string, RolloutManifest>>
  /**
   * When each channel's manifest was signed and its effective window (freshness gate); a
   * channel absent here is not gated on freshness.
   */
  readonly signed?: Readonly<Record<string, SignedStamp>> | undefined
}

/** When a manifest was signed, and how long agents act on it (its channel's window). */
export type SignedStamp = {
  readonly signedAtMs: number
  readonly windowSecs: number
  readonly signingIntervalMinutes?: number | undefined
}

/** The quarantined closures per channel (append-only on the CP; see DECISIONS §3.3). */
export type QuarantineSet = Readonly<Record<string, readonly string[]>>

/** The rollout id of a channel at a ref: `{channel}@{channelRef}` (RFC-0008 §6.3). */
export function rolloutIdOf(channel: string, channelRef: string): string {
  return `${channel}@${channelRef}`
}
