/**
 * The schema of a per-channel rollout manifest (protocol §3.2, reference `rollout_manifest.rs`):
 * the projection of one channel of a signed fleet.resolved, signed by the CI release key.
 *
 * Invariants (do not change without a protocol update):
 * - Field names and casing are exactly the reference's; unknown keys are dropped, never
 *   rejected.
 * - `complianceFrameworks` is required by the reference fork that still has it (its agents
 *   cannot parse a manifest without it), so the release always writes it; here it is optional
 *   (absent = []), because manifests signed before it was written, and the newest reference
 *   shape that dropped it, must still verify and parse: an agent or CP refusing them would stall
 *   every rollout until CI signs again.
 * - `hostSet` is sorted by hostname and `disruptionBudgets[].hosts` alphabetically by the producer;
 *   arrays are never re-sorted here, because the signature covers the producer's order.
 * - The cross-checks (discriminator `{channel}@{channelRef}` == requested id, anchor
 *   `fleetResolvedHash` == sha256 of the fleet bytes) belong to the consumer, not to this parse.
 */
import * as v from 'valibot'
import { HealthGateSchema, MetaSchema, SelectorSchema, U32Schema } from './common.ts'
import { ChannelNameSchema, HostnameSchema, Sha256HexSchema, WireClosureHashSchema } from './ids.ts'

/** The schema of one host of a rollout with its wave and target closure. */
export const HostWaveSchema = v.object({
  hostname: HostnameSchema,
  // Index of the first wave of `fleet.waves[channel]` holding the host; 0 when in none.
  waveIndex: U32Schema,
  // Lenient like `closureHash` in the fleet: it is copied from there (see ids.ts).
  targetClosure: WireClosureHashSchema,
})
/** The host of a rollout. */
export type HostWave = v.InferOutput<typeof HostWaveSchema>

/** The schema of a budget frozen at projection time: its selector plus the hosts it resolved to. */
export const RolloutBudgetSchema = v.object({
  selector: SelectorSchema,
  hosts: v.array(HostnameSchema),
  maxInFlight: v.nullish(U32Schema, null),
  maxInFlightPct: v.nullish(U32Schema, null),
})
/** The budget of a rollout. */
export type RolloutBudget = v.InferOutput<typeof RolloutBudgetSchema>

/** The schema of a rollout manifest. `schemaVersion` is checked by the verifier (must be 1). */
export const RolloutManifestSchema = v.object({
  schemaVersion: U32Schema,
  // `{channel}@{first 8 chars of ciCommit or "unknown"}`: display only, never parsed.
  displayName: v.string(),
  channel: ChannelNameSchema,
  // The fleet's meta.ciCommit, or "" when that was null, so it cannot be a CiCommit here; the
  // discriminator check fails for "" because no rollout id has an empty ref.
  channelRef: v.string(),
  fleetResolvedHash: Sha256HexSchema,
  hostSet: v.array(HostWaveSchema),
  healthGate: HealthGateSchema,
  // The channel's `compliance.frameworks` in the fleet at projection time.
  complianceFrameworks: v.optional(v.array(v.string()), () => []),
  disruptionBudgets: v.optional(v.array(RolloutBudgetSchema), () => []),
  meta: MetaSchema,
})
/** The rollout manifest, as signed by CI. */
export type RolloutManifest = v.InferOutput<typeof RolloutManifestSchema>
