/**
 * The schema of `fleet.resolved.json` (protocol §3.1, reference `fleet_resolved.rs`): the whole
 * fleet as CI evaluated it from Nix, signed by the CI release key.
 *
 * Invariants (do not change without a protocol update):
 * - Field names and casing are exactly the reference's; unknown keys are dropped (`v.object`),
 *   never rejected, and the signature covers the received bytes, so additive fields are safe.
 * - Older shapes that signed artifacts in the wild still use are folded onto the newest names:
 *   host `system` → `platform`, channel edge `before`/`after` → `gates`/`gated`, budget `hosts[]`
 *   → `selector`. Carrying both spellings at once is refused, as serde refuses a field given under
 *   its name and its alias. Host `edges` never accept `before`/`after`: their meaning was inverted
 *   by the rename, so guessing would silently reverse the DAG.
 * - Required vs defaulted fields mirror the reference's `#[serde(default)]` attributes.
 */
import * as v from 'valibot'
import { HealthGateSchema, MetaSchema, Rfc3339Schema, SelectorSchema, U32Schema } from './common.ts'
import { ChannelNameSchema, HostnameSchema, WireClosureHashSchema } from './ids.ts'

/**
 * The schema of a host pin (a host held at a given commit). The reference omits `expiresAt`
 * when the pin has no expiry; mkFleet writes `null`, which serde reads as absent too, so null
 * parses to an absent `expiresAt` and every consumer sees one form of "no expiry".
 */
export const PinSchema = v.pipe(
  v.object({
    commit: v.string(),
    reason: v.string(),
    expiresAt: v.nullish(Rfc3339Schema),
  }),
  v.transform(({ expiresAt, ...pin }): { commit: string; reason: string; expiresAt?: string } =>
    expiresAt == null ? pin : { ...pin, expiresAt }
  )
)
/** The host pin. */
export type Pin = v.InferOutput<typeof PinSchema>

/** The schema of one host of the fleet (newest name `platform`, older `system`). */
export const HostSchema = v.pipe(
  v.object({
    platform: v.optional(v.string()),
    system: v.optional(v.string()),
    tags: v.array(v.string()),
    channel: ChannelNameSchema,
    // Injected by the release tool; null before it ran or for hosts without a build.
    closureHash: v.nullish(WireClosureHashSchema, null),
    // OpenSSH `ssh-ed25519 AAAA… [comment]`; parsed where it is used (enrollment).
    pubkey: v.nullish(v.string(), null),
    pin: v.nullish(PinSchema),
  }),
  v.forward(
    v.check(
      (h) => h.platform === undefined || h.system === undefined,
      'use platform or system, not both'
    ),
    ['system']
  ),
  v.forward(
    v.check((h) => h.platform !== undefined || h.system !== undefined, 'required (platform)'),
    ['platform']
  ),
  // The checks above guarantee exactly one spelling is present.
  v.transform(({ platform, system, ...rest }) => ({ platform: (platform ?? system)!, ...rest }))
)
/** The fleet host, with the legacy `system` folded into `platform`. */
export type Host = v.InferOutput<typeof HostSchema>

/**
 * The schema of a channel's compliance posture (`{frameworks, mode}`, mode "disabled",
 * "permissive" or "enforce"). mkFleet and the reference fork that still carries it always write
 * both members; the newest reference shape dropped the whole object, so it is optional.
 */
export const ChannelComplianceSchema = v.object({
  frameworks: v.array(v.string()),
  mode: v.string(),
})

/** The schema of a channel. `freshnessWindow` is in MINUTES despite its name. */
export const ChannelSchema = v.object({
  rolloutPolicy: v.string(),
  reconcileIntervalMinutes: U32Schema,
  freshnessWindow: U32Schema,
  signingIntervalMinutes: U32Schema,
  // Mirrored into the channel's rollout manifest as `complianceFrameworks`.
  compliance: v.optional(ChannelComplianceSchema),
})
/** The channel. */
export type Channel = v.InferOutput<typeof ChannelSchema>

/** The schema of the action taken when a host fails its health gate (kebab-case on the wire). */
export const OnHealthFailureSchema = v.picklist(['halt', 'rollback-and-halt'])
/** The action taken when a host fails its health gate. */
export type OnHealthFailure = v.InferOutput<typeof OnHealthFailureSchema>

/** The schema of one wave of a rollout policy. */
export const PolicyWaveSchema = v.object({
  selector: SelectorSchema,
  soakMinutes: U32Schema,
})
/** The policy wave. */
export type PolicyWave = v.InferOutput<typeof PolicyWaveSchema>

/**
 * The schema of a rollout policy. `strategy` stays a free string ("canary", "all-at-once",
 * "staged" or custom); the all-at-once synthetic wave is added after verification, not here.
 */
export const RolloutPolicySchema = v.object({
  strategy: v.string(),
  waves: v.array(PolicyWaveSchema),
  healthGate: v.optional(HealthGateSchema, () => ({})),
  onHealthFailure: OnHealthFailureSchema,
})
/** The rollout policy. */
export type RolloutPolicy = v.InferOutput<typeof RolloutPolicySchema>

/** The schema of a resolved per-channel wave (host lists pre-resolved and sorted by CI). */
export const WaveSchema = v.object({
  hosts: v.array(HostnameSchema),
  soakMinutes: U32Schema,
})
/** The resolved wave. */
export type Wave = v.InferOutput<typeof WaveSchema>

/** The schema of a host edge: `gated` waits until `gates` is Converged/Deferred (same channel). */
export const EdgeSchema = v.object({
  gated: HostnameSchema,
  gates: HostnameSchema,
  reason: v.nullish(v.string(), null),
})
/** The host edge. */
export type Edge = v.InferOutput<typeof EdgeSchema>

/** The schema of a channel edge (`gates` must converge before `gated` opens a rollout). */
export const ChannelEdgeSchema = v.pipe(
  v.object({
    gates: v.optional(ChannelNameSchema),
    gated: v.optional(ChannelNameSchema),
    // Deprecated aliases: `before` is the predecessor (gates), `after` the successor (gated).
    before: v.optional(ChannelNameSchema),
    after: v.optional(ChannelNameSchema),
    reason: v.nullish(v.string(), null),
  }),
  v.forward(
    v.check(
      (e) => e.gates === undefined || e.before === undefined,
      'use gates or before, not both'
    ),
    ['before']
  ),
  v.forward(
    v.check((e) => e.gated === undefined || e.after === undefined, 'use gated or after, not both'),
    ['after']
  ),
  v.forward(
    v.check((e) => (e.gates ?? e.before) !== undefined, 'required (gates)'),
    ['gates']
  ),
  v.forward(
    v.check((e) => (e.gated ?? e.after) !== undefined, 'required (gated)'),
    ['gated']
  ),
  v.transform(({ gates, gated, before, after, reason }) => ({
    // The checks above guarantee one spelling of each is present.
    gates: (gates ?? before)!,
    gated: (gated ?? after)!,
    reason,
  }))
)
/** The channel edge, with the legacy `before`/`after` folded into `gates`/`gated`. */
export type ChannelEdge = v.InferOutput<typeof ChannelEdgeSchema>

/**
 * The schema of a disruption budget. Older artifacts listed `hosts[]` instead of a `selector`; such
 * a list becomes the selector `{hosts}` (all other rules empty), which matches exactly those hosts.
 */
export const DisruptionBudgetSchema = v.pipe(
  v.object({
    selector: v.optional(SelectorSchema),
    hosts: v.optional(v.array(HostnameSchema)),
    maxInFlight: v.nullish(U32Schema, null),
    maxInFlightPct: v.nullish(U32Schema, null),
  }),
  v.forward(
    v.check(
      (b) => b.selector === undefined || b.hosts === undefined,
      'use selector or hosts, not both'
    ),
    ['hosts']
  ),
  v.forward(
    v.check((b) => b.selector !== undefined || b.hosts !== undefined, 'required (selector)'),
    ['selector']
  ),
  v.transform(({ selector, hosts, maxInFlight, maxInFlightPct }) => ({
    selector: selector ?? { tags: [], tagsAny: [], hosts: hosts ?? [], channel: null, all: false },
    maxInFlight,
    maxInFlightPct,
  }))
)
/** The disruption budget, always in the selector form. */
export type DisruptionBudget = v.InferOutput<typeof DisruptionBudgetSchema>

/** The schema of `fleet.resolved.json`. `schemaVersion` is checked by the verifier (must be 1). */
export const FleetResolvedSchema = v.object({
  schemaVersion: U32Schema,
  hosts: v.record(HostnameSchema, HostSchema),
  channels: v.record(ChannelNameSchema, ChannelSchema),
  rolloutPolicies: v.optional(v.record(v.string(), RolloutPolicySchema), () => ({})),
  waves: v.record(ChannelNameSchema, v.array(WaveSchema)),
  edges: v.optional(v.array(EdgeSchema), () => []),
  channelEdges: v.optional(v.array(ChannelEdgeSchema), () => []),
  disruptionBudgets: v.optional(v.array(DisruptionBudgetSchema), () => []),
  meta: MetaSchema,
})
/** The resolved fleet, as signed by CI. */
export type FleetResolved = v.InferOutput<typeof FleetResolvedSchema>
