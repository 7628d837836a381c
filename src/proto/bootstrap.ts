/**
 * Enrollment artifacts: `bootstrap-nonces.json` (protocol §3.4), the CI-signed allowlist of token
 * nonces, and the bootstrap token (§3.5, reference `enroll_wire.rs`) signed by the org root key.
 *
 * Invariants (do not change without a protocol update):
 * - Field names and casing are exactly the reference's; unknown keys are dropped.
 * - The token's signature covers JCS(claims). Verify it over the canonical form of the *received*
 *   claims object: this parse does not round-trip timestamps the way chrono does (§2).
 * - `version` parses as any u32 and callers compare it with `BOOTSTRAP_TOKEN_VERSION`, so enroll
 *   can answer "unsupported token version" rather than a generic parse error — the same split as
 *   `schemaVersion` for the CI-signed artifacts.
 */
import * as v from 'valibot'
import { MetaSchema, Rfc3339Schema, U32Schema } from './common.ts'
import { HostnameSchema } from './ids.ts'

/** The only bootstrap token version the protocol defines. */
export const BOOTSTRAP_TOKEN_VERSION = 1

/** The schema of one allowlisted nonce; live iff `expiresAt >= now`. */
export const BootstrapNonceEntrySchema = v.object({
  // Matched byte for byte against the token's nonce, so no format is imposed beyond non-empty.
  nonce: v.pipe(v.string(), v.minLength(1, 'expected a non-empty nonce')),
  hostname: HostnameSchema,
  expiresAt: Rfc3339Schema,
  mintedAt: v.nullish(Rfc3339Schema, null),
  mintedBy: v.nullish(v.string(), null),
})
/** The allowlisted bootstrap nonce. */
export type BootstrapNonceEntry = v.InferOutput<typeof BootstrapNonceEntrySchema>

/**
 * The schema of `bootstrap-nonces.json`; the verifier checks `schemaVersion` (must be 1).
 * `mintedAfter` (NixFleet, optional so older lists parse): tokens whose signed `issuedAt` is
 * earlier are refused — the operator's floor after a lost database, when the CP can no longer
 * prove which older tokens were used.
 */
export const BootstrapNoncesSchema = v.object({
  schemaVersion: U32Schema,
  bootstrapNonces: v.array(BootstrapNonceEntrySchema),
  mintedAfter: v.nullish(Rfc3339Schema, null),
  meta: MetaSchema,
})
/** The signed nonce allowlist. */
export type BootstrapNonces = v.InferOutput<typeof BootstrapNoncesSchema>

/** The schema of the signed claims of a bootstrap token. */
export const TokenClaimsSchema = v.object({
  hostname: HostnameSchema,
  // base64(sha256(raw 32-byte ed25519 pubkey)), compared as a string.
  expectedPubkeyFingerprint: v.string(),
  issuedAt: Rfc3339Schema,
  expiresAt: Rfc3339Schema,
  // 16 random bytes as 32 lowercase hex chars when minted by us; matched, not decoded.
  nonce: v.pipe(v.string(), v.minLength(1, 'expected a non-empty nonce')),
})
/** The claims of a bootstrap token. */
export type TokenClaims = v.InferOutput<typeof TokenClaimsSchema>

/** The schema of a bootstrap token; callers reject `version !== BOOTSTRAP_TOKEN_VERSION`. */
export const BootstrapTokenSchema = v.object({
  version: U32Schema,
  claims: TokenClaimsSchema,
  // base64 (standard) of the 64-byte ed25519 signature; decoded by the verifier.
  signature: v.string(),
})
/** The bootstrap token presented at enrollment. */
export type BootstrapToken = v.InferOutput<typeof BootstrapTokenSchema>
