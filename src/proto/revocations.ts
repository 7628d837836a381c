/**
 * The schema of `revocations.json` (protocol §3.3, reference `revocations.rs`), signed by the CI
 * release key: agent certificates of `hostname` issued strictly before `notBefore` are refused.
 *
 * Invariants (do not change without a protocol update): field names and casing are exactly the
 * reference's; unknown keys are dropped; an empty list is valid (the file is always emitted).
 */
import * as v from 'valibot'
import { MetaSchema, Rfc3339Schema, U32Schema } from './common.ts'
import { HostnameSchema } from './ids.ts'

/** The schema of one revocation; `hostname` is the short name, not the certificate CN. */
export const RevocationEntrySchema = v.object({
  hostname: HostnameSchema,
  notBefore: Rfc3339Schema,
  reason: v.nullish(v.string(), null),
  revokedBy: v.nullish(v.string(), null),
})
/** The revocation entry. */
export type RevocationEntry = v.InferOutput<typeof RevocationEntrySchema>

/** The schema of `revocations.json`. `schemaVersion` is checked by the verifier (must be 1). */
export const RevocationsSchema = v.object({
  schemaVersion: U32Schema,
  revocations: v.array(RevocationEntrySchema),
  meta: MetaSchema,
})
/** The signed revocation list. */
export type Revocations = v.InferOutput<typeof RevocationsSchema>
