/**
 * Verification of each signed artifact kind, as the control plane, the agent and the offline
 * `nixfleet verify` all run it: the shared pipeline (`crypto/verify-artifact.ts`) plus what each
 * kind adds — the all-at-once normalisation for a fleet; the discriminator, the
 * `fleetResolvedHash` anchor and the channel's own freshness window for a rollout manifest.
 * Pure apart from WebCrypto: `now` and the trust slot are arguments.
 */
import {
  type Verified,
  type VerifyError,
  type VerifyResult,
  checkFreshness,
  verifyArtifact,
} from '../crypto/verify-artifact.ts'
import { channelFreshnessWindowSecs } from '../core/release/freshness.ts'
import { checkManifestBinding, normalizeRolloutPolicies } from '../core/release/projection.ts'
import { type BootstrapNonces, BootstrapNoncesSchema } from '../proto/bootstrap.ts'
import { type FleetResolved, FleetResolvedSchema } from '../proto/fleet.ts'
import { type RolloutManifest, RolloutManifestSchema } from '../proto/manifest.ts'
import { type Revocations, RevocationsSchema } from '../proto/revocations.ts'
import type { KeySlot } from '../proto/trust.ts'

/** The inputs every verification shares. */
export type VerifyContext = {
  readonly slot: KeySlot | null | undefined
  /** Epoch milliseconds. */
  readonly now: number
  /** The global freshness window in seconds. */
  readonly freshnessWindowSecs: number
}

/** The error kinds a rollout manifest adds to the pipeline's. */
export type ManifestErrorKind = VerifyError['kind'] | 'RolloutIdMismatch' | 'AnchorMismatch'

/** Verifies a signed fleet.resolved and applies the all-at-once normalisation. */
export async function verifyFleet(
  bytes: Uint8Array,
  signature: Uint8Array,
  ctx: VerifyContext
): Promise<VerifyResult<FleetResolved>> {
  const r = await verifyArtifact({ bytes, signature, schema: FleetResolvedSchema, ...ctx })
  if (!r.ok) return r
  return {
    ok: true,
    verified: { ...r.verified, value: normalizeRolloutPolicies(r.verified.value) },
  }
}

/**
 * Verifies a signed rollout manifest for `rolloutId`. With `fleet` (the verified fleet it must
 * derive from) the anchor is checked and the channel's `freshnessWindow` applies.
 */
export async function verifyRolloutManifest(
  bytes: Uint8Array,
  signature: Uint8Array,
  ctx: VerifyContext & {
    readonly rolloutId?: string | undefined
    readonly fleet?:
      { readonly sha256: string; readonly value: Pick<FleetResolved, 'channels'> } | undefined
  }
): Promise<
  | { ok: true; verified: Verified<RolloutManifest>; freshnessWindowSecs: number }
  | { ok: false; error: { kind: ManifestErrorKind; message: string } }
> {
  const r = await verifyArtifact({ bytes, signature, schema: RolloutManifestSchema, ...ctx })
  if (!r.ok) return r
  const m = r.verified.value
  const binding = checkManifestBinding(
    m,
    ctx.rolloutId ?? `${m.channel}@${m.channelRef}`,
    ctx.fleet?.sha256
  )
  if (binding) {
    return { ok: false, error: { kind: binding.kind, message: binding.message } }
  }
  const windowSecs = channelFreshnessWindowSecs(
    ctx.fleet?.value.channels[m.channel],
    ctx.freshnessWindowSecs
  )
  if (windowSecs < ctx.freshnessWindowSecs) {
    const stale = checkFreshness(r.verified.signedAtMs, ctx.now, windowSecs)
    if (stale)
      return { ok: false, error: { ...stale, message: `${stale.message} (channel ${m.channel})` } }
  }
  return { ok: true, verified: r.verified, freshnessWindowSecs: windowSecs }
}

/** Verifies a signed revocations.json. */
export function verifyRevocations(
  bytes: Uint8Array,
  signature: Uint8Array,
  ctx: VerifyContext
): Promise<VerifyResult<Revocations>> {
  return verifyArtifact({ bytes, signature, schema: RevocationsSchema, ...ctx })
}

/** Verifies a signed bootstrap-nonces.json. */
export function verifyBootstrapNonces(
  bytes: Uint8Array,
  signature: Uint8Array,
  ctx: VerifyContext
): Promise<VerifyResult<BootstrapNonces>> {
  return verifyArtifact({ bytes, signature, schema: BootstrapNoncesSchema, ...ctx })
}
