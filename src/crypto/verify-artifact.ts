/**
 * The verification pipeline shared by every consumer of CI-signed artifacts (fleet.resolved,
 * rollout manifests, revocations, bootstrap-nonces), in the reference's order (protocol §3.7):
 *   1. no active trust key ⇒ NoTrustRoots
 *   2. bytes must be UTF-8 JSON; canonical = JCS(received bytes) ⇒ Parse
 *   3. keys in order current, previous, successor (while now < retireAt); first match wins
 *      ⇒ UnsupportedAlgorithm (no usable key) | BadPubkeyEncoding | BadSignature
 *   4. schemaVersion must be 1 ⇒ SchemaVersionUnsupported; then the typed parse ⇒ Parse
 *   5. meta.signedAt null ⇒ NotSigned
 *   6. signedAt < rejectBefore (strict) ⇒ RejectedBeforeTimestamp
 *   7. now − signedAt > window + 60 s ⇒ Stale; signedAt − now > 60 s ⇒ FutureDated
 * Invariants: the signature is checked over the canonical form of the *received* bytes, so
 * unknown additive fields stay covered by it; the parsed value is never re-serialized; this
 * module reads no clock (`now` is an argument) and does no I/O.
 */
import * as v from 'valibot'
import { fromBase64 } from '../lib/bytes.ts'
import { JsonSyntaxError, parseCanonical } from './canonical-json.ts'
import { ed25519Verify } from './ed25519.ts'
import { p256Verify } from './p256.ts'
import { sha256Hex } from './sha256.ts'
import { type KeySlot, type TrustKey, activeKeysAt } from '../proto/trust.ts'
import { parseRfc3339Ms } from '../proto/common.ts'
import { summarizeIssues } from '../proto/issues.ts'

/** The clock-skew slack applied in both directions, in seconds (reference `CLOCK_SKEW_SLACK_SECS`). */
const CLOCK_SKEW_SLACK_SECS = 60

/** The tagged reasons an artifact is refused, with the reference's names. */
export type VerifyErrorKind =
  | 'Parse'
  | 'BadSignature'
  | 'NotSigned'
  | 'Stale'
  | 'FutureDated'
  | 'RejectedBeforeTimestamp'
  | 'SchemaVersionUnsupported'
  | 'UnsupportedAlgorithm'
  | 'BadPubkeyEncoding'
  | 'NoTrustRoots'

/** A refused artifact: the tag plus one operator-readable sentence (never echoing the input). */
export type VerifyError = { readonly kind: VerifyErrorKind; readonly message: string }

/** Which slot position a signature matched. */
export type KeyPosition = 'current' | 'previous' | 'successor'

/** The witness of a verified artifact: its typed value plus what was proven about its bytes. */
export type Verified<T> = {
  readonly value: T
  /** The canonical bytes the signature covers. */
  readonly canonical: Uint8Array
  /** Lowercase hex SHA-256 of the canonical bytes (`fleetResolvedHash` for a fleet). */
  readonly sha256: string
  readonly signedAt: string
  readonly signedAtMs: number
  readonly ciCommit: string | null
  readonly key: KeyPosition
  readonly algorithm: string
}

/** The result of a verification. */
export type VerifyResult<T> =
  { ok: true; verified: Verified<T> } | { ok: false; error: VerifyError }

/** The inputs of one verification. */
export type VerifyInput<T> = {
  readonly bytes: Uint8Array
  readonly signature: Uint8Array
  readonly schema: v.GenericSchema<unknown, T>
  readonly slot: KeySlot | null | undefined
  /** Epoch milliseconds. */
  readonly now: number
  readonly freshnessWindowSecs: number
}

const fail = <T>(kind: VerifyErrorKind, message: string): VerifyResult<T> => ({
  ok: false,
  error: { kind, message },
})

/** The keys of a slot usable at `now`, labelled with their slot position. */
function activeSlotKeys(
  slot: KeySlot | null | undefined,
  now: number
): { position: KeyPosition; key: TrustKey }[] {
  if (!slot) return []
  return activeKeysAt(slot, now).map((key) => ({
    position: key === slot.current ? 'current' : key === slot.previous ? 'previous' : 'successor',
    key,
  }))
}

/** Verifies `signature` over the canonical form of `message` with the first matching key. */
async function verifyWithSlot(
  message: Uint8Array,
  signature: Uint8Array,
  slot: KeySlot | null | undefined,
  now: number
): Promise<
  { ok: true; position: KeyPosition; algorithm: string } | { ok: false; error: VerifyError }
> {
  const keys = activeSlotKeys(slot, now)
  if (keys.length === 0) {
    return { ok: false, error: { kind: 'NoTrustRoots', message: 'no trusted key is active' } }
  }
  let supported = 0
  for (const { position, key } of keys) {
    const expected = key.algorithm === 'ed25519' ? 32 : key.algorithm === 'ecdsa-p256' ? 64 : 0
    if (expected === 0) continue // other algorithms are skipped, as in the reference
    supported++
    const pub = fromBase64(key.public)
    if (!pub || pub.length !== expected) {
      return {
        ok: false,
        error: {
          kind: 'BadPubkeyEncoding',
          message: `the ${position} ${key.algorithm} trust key is not base64 of ${expected} bytes`,
        },
      }
    }
    const good =
      key.algorithm === 'ed25519'
        ? ed25519Verify(signature, message, pub)
        : await p256Verify(signature, message, pub)
    if (good) return { ok: true, position, algorithm: key.algorithm }
  }
  if (supported === 0) {
    return {
      ok: false,
      error: {
        kind: 'UnsupportedAlgorithm',
        message: `no active trust key uses a supported algorithm (${keys.map((k) => k.key.algorithm).join(', ')})`,
      },
    }
  }
  const detail =
    signature.length === 64 ? 'matches no active key' : `is ${signature.length} bytes, not 64`
  return { ok: false, error: { kind: 'BadSignature', message: `signature ${detail}` } }
}

/** A duration for operators: `3 d 4 h`, `12 min 5 s`, `42 s`. */
function formatDuration(secs: number): string {
  const s = Math.floor(secs)
  const units: [number, string][] = [
    [86_400, 'd'],
    [3600, 'h'],
    [60, 'min'],
    [1, 's'],
  ]
  const parts: string[] = []
  let rest = s
  for (const [size, name] of units) {
    if (rest >= size || (size === 1 && parts.length === 0)) {
      parts.push(`${Math.floor(rest / size)} ${name}`)
      rest %= size
    }
    if (parts.length === 2) break
  }
  return parts.join(' ')
}

/** Checks `signedAtMs` against the freshness window with the ±60 s slack. */
export function checkFreshness(
  signedAtMs: number,
  now: number,
  windowSecs: number
): VerifyError | undefined {
  const elapsedMs = now - signedAtMs
  if (elapsedMs > (windowSecs + CLOCK_SKEW_SLACK_SECS) * 1000) {
    return {
      kind: 'Stale',
      message: `signed ${formatDuration(elapsedMs / 1000)} ago, older than the ${formatDuration(windowSecs)} freshness window (+${CLOCK_SKEW_SLACK_SECS} s slack)`,
    }
  }
  if (-elapsedMs > CLOCK_SKEW_SLACK_SECS * 1000) {
    return {
      kind: 'FutureDated',
      message: `signed ${formatDuration(-elapsedMs / 1000)} in the future (more than the ${CLOCK_SKEW_SLACK_SECS} s clock-skew slack)`,
    }
  }
  return undefined
}

function metaOf(value: unknown): { signedAt: unknown; ciCommit: unknown } {
  const meta = (value as { meta?: { signedAt?: unknown; ciCommit?: unknown } }).meta
  return { signedAt: meta?.signedAt ?? null, ciCommit: meta?.ciCommit ?? null }
}

/** Runs the whole pipeline over received artifact bytes and their detached signature. */
export async function verifyArtifact<T>(input: VerifyInput<T>): Promise<VerifyResult<T>> {
  const keys = activeSlotKeys(input.slot, input.now)
  if (keys.length === 0) return fail('NoTrustRoots', 'no ciReleaseKey is active in the trust file')

  let parsed: { value: unknown; canonical: Uint8Array }
  try {
    parsed = parseCanonical(input.bytes)
  } catch (e) {
    if (e instanceof JsonSyntaxError) return fail('Parse', e.message)
    throw e
  }

  const sig = await verifyWithSlot(parsed.canonical, input.signature, input.slot, input.now)
  if (!sig.ok) return { ok: false, error: sig.error }

  const raw = parsed.value
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return fail('Parse', 'artifact is not a JSON object')
  }
  const version = (raw as { schemaVersion?: unknown }).schemaVersion
  if (version !== 1) {
    return fail(
      'SchemaVersionUnsupported',
      `schemaVersion ${JSON.stringify(version ?? null)} is not supported (expected 1)`
    )
  }
  const typed = v.safeParse(input.schema, raw)
  if (!typed.success) return fail('Parse', `schema: ${summarizeIssues(typed.issues)}`)

  const meta = metaOf(raw)
  if (typeof meta.signedAt !== 'string') return fail('NotSigned', 'meta.signedAt is null')
  const signedAtMs = parseRfc3339Ms(meta.signedAt)
  if (Number.isNaN(signedAtMs)) return fail('Parse', 'meta.signedAt is not an RFC 3339 timestamp')

  const rejectBefore = input.slot?.rejectBefore
  if (rejectBefore && signedAtMs < parseRfc3339Ms(rejectBefore)) {
    return fail(
      'RejectedBeforeTimestamp',
      `signed at ${meta.signedAt}, before the trust file's rejectBefore ${rejectBefore}`
    )
  }
  const stale = checkFreshness(signedAtMs, input.now, input.freshnessWindowSecs)
  if (stale) return { ok: false, error: stale }

  return {
    ok: true,
    verified: {
      value: typed.output,
      canonical: parsed.canonical,
      sha256: sha256Hex(parsed.canonical),
      signedAt: meta.signedAt,
      signedAtMs,
      ciCommit: typeof meta.ciCommit === 'string' ? meta.ciCommit : null,
      key: sig.position,
      algorithm: sig.algorithm,
    },
  }
}
