/**
 * The schema of `trust.json` (protocol §4, reference `trust.rs`): the public trust roots of a CP or
 * an agent — CI release key slot, org root key slot, cache keys and fleet CA certificates — and
 * the key-slot rule deciding which keys are active at a given time.
 *
 * Invariants (do not change without a protocol update):
 * - `schemaVersion` must be 1: a file we do not understand is refused outright, never guessed at.
 * - Unknown keys are ignored (`v.object`, not the `strictObject` STYLE §7.14 asks of config
 *   files): the reference ignores them, trust.json is rendered by the NixOS module rather than
 *   typed by hand, and a newer module adding a field must not lock the fleet out of its roots.
 * - Key `algorithm` and `public` are free strings: the verifier reports `UnsupportedAlgorithm`
 *   and `BadPubkeyEncoding` for them, as the reference does, instead of the parse failing.
 * - The Nix module spells the CA fields `rootCAPem`/`issuanceCAPems` (spec §4, §11.9), which the
 *   reference silently ignores; we accept both spellings onto the canonical names instead of
 *   dropping the operator's CAs, and refuse a file carrying both spellings of one field.
 */
import * as v from 'valibot'
import { parseRfc3339Ms, Rfc3339Schema } from './common.ts'

/** The schema of a trusted public key: `ed25519` (32 bytes) or `ecdsa-p256` (64 bytes X‖Y). */
export const TrustKeySchema = v.object({
  algorithm: v.string(),
  // Standard base64 of the raw key; decoded (and length-checked) by the verifier.
  public: v.string(),
})
/** The trusted public key. */
export type TrustKey = v.InferOutput<typeof TrustKeySchema>

/** The schema of a key slot; every member is an `Option` in the reference (null or absent). */
export const KeySlotSchema = v.object({
  current: v.nullish(TrustKeySchema, null),
  // Kept through a rotation grace period (30 d for CI, 90 d for the org root).
  previous: v.nullish(TrustKeySchema, null),
  // Compromise kill-switch: artifacts signed strictly before it are refused, whatever the key.
  rejectBefore: v.nullish(Rfc3339Schema, null),
  successor: v.nullish(TrustKeySchema, null),
  retireAt: v.nullish(Rfc3339Schema, null),
})
/** The key slot (`ciReleaseKey`, `orgRootKey`). */
export type KeySlot = v.InferOutput<typeof KeySlotSchema>

/** The schema of trust.json, with the Nix CA spellings folded onto the canonical names. */
export const TrustFileSchema = v.pipe(
  v.object({
    schemaVersion: v.literal(1, 'unsupported trust.json schemaVersion (expected 1)'),
    ciReleaseKey: KeySlotSchema,
    // Opaque `name:base64` strings for Nix `trusted-public-keys`; NixFleet never verifies them.
    cacheKeys: v.optional(v.array(v.string()), () => []),
    orgRootKey: v.nullish(KeySlotSchema, null),
    rootCaPem: v.nullish(v.string()),
    rootCAPem: v.nullish(v.string()),
    issuanceCaPems: v.optional(v.array(v.string())),
    issuanceCAPems: v.optional(v.array(v.string())),
  }),
  v.forward(
    v.check(
      (t) => t.rootCaPem === undefined || t.rootCAPem === undefined,
      'use rootCaPem or rootCAPem, not both'
    ),
    ['rootCAPem']
  ),
  v.forward(
    v.check(
      (t) => t.issuanceCaPems === undefined || t.issuanceCAPems === undefined,
      'use issuanceCaPems or issuanceCAPems, not both'
    ),
    ['issuanceCAPems']
  ),
  v.transform((t) => ({
    schemaVersion: t.schemaVersion,
    ciReleaseKey: t.ciReleaseKey,
    cacheKeys: t.cacheKeys,
    orgRootKey: t.orgRootKey,
    rootCaPem: t.rootCaPem ?? t.rootCAPem ?? null,
    issuanceCaPems: t.issuanceCaPems ?? t.issuanceCAPems ?? [],
  }))
)
/** The trust file. */
export type TrustFile = v.InferOutput<typeof TrustFileSchema>

/**
 * The keys of `slot` usable at `nowMs`, in verification order: current, previous, then successor
 * while `nowMs < retireAt` (strict: at retireAt it is out). A successor without `retireAt` is never
 * active: the Nix module pairs them, and an open-ended rotation window must not be guessed.
 */
export function activeKeysAt(slot: KeySlot, nowMs: number): TrustKey[] {
  const keys: TrustKey[] = []
  if (slot.current) keys.push(slot.current)
  if (slot.previous) keys.push(slot.previous)
  if (slot.successor && slot.retireAt !== null && nowMs < parseRfc3339Ms(slot.retireAt)) {
    keys.push(slot.successor)
  }
  return keys
}
