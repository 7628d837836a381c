/**
 * The one Ed25519 module: sign and strict verify over `Uint8Array` only.
 *
 * Verification is the reference's `verify_strict` (ed25519-dalek), with canonical key encodings
 * required as well. A signature (R ‖ S) of a message by key A is valid only when:
 * - S < L (no malleable second form of a signature),
 * - A and R are canonical encodings (y < p; x = 0 never carries the sign bit) of curve points,
 * - neither A nor R has small order (no key or nonce that makes forgeries ambiguous),
 * - the cofactorless equation [S]B = R + [k]A holds, compared as encodings.
 * Wrong lengths and malformed points return `false` and never throw.
 *
 * Division of work: noble decodes A and R and checks their order (three doublings each);
 * BoringSSL (through node:crypto) computes the scalar multiplications, signs and derives keys.
 * noble's own base-point multiplication first builds a 4,224-point table, and building it grows
 * the JS heap by about 11 MB that stays resident: a quarter of the agent's footprint budget.
 * BoringSSL needs no table. Signing is deterministic (RFC 8032), so both give identical
 * signatures (tests check it against noble).
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import * as ed from '@noble/ed25519'
import { concatBytes, fromHex } from '../lib/bytes.ts'

/** The length of an Ed25519 seed (secret key) and of a public key. */
const ED25519_KEY_LENGTH = 32
/** The length of a raw Ed25519 signature (R‖S). */
const ED25519_SIG_LENGTH = 64

/** The DER prefix (RFC 8410) of an ed25519 PKCS#8 private key; the 32-byte seed follows. */
export const ED25519_PKCS8_PREFIX: Uint8Array = fromHex('302e020100300506032b657004220420')!
/** The DER prefix (RFC 8410) of an ed25519 SubjectPublicKeyInfo; the 32-byte key follows. */
export const ED25519_SPKI_PREFIX: Uint8Array = fromHex('302a300506032b6570032100')!
// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L_LE = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010')!

function privateKey(seed: Uint8Array): KeyObject {
  if (seed.length !== ED25519_KEY_LENGTH) throw new RangeError('ed25519 seed must be 32 bytes')
  return createPrivateKey({
    key: Buffer.from(concatBytes(ED25519_PKCS8_PREFIX, seed)),
    format: 'der',
    type: 'pkcs8',
  })
}

/** The public key of a 32-byte seed. */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKey(seed)).export({ format: 'der', type: 'spki' })
  return new Uint8Array(spki.subarray(ED25519_SPKI_PREFIX.length))
}

/** A fresh random seed from the platform CSPRNG. */
export function ed25519RandomSeed(): Uint8Array {
  return ed.utils.randomSecretKey()
}

/** The raw 64-byte signature of `message` by `seed`. */
export function ed25519Sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKey(seed)))
}

/** Whether the little-endian 32-byte scalar is below L. */
function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i]! !== L_LE[i]!) return s[i]! < L_LE[i]!
  }
  return false
}

/** Whether `bytes` canonically encodes a curve point of more than small order. */
function isStrictPoint(bytes: Uint8Array): boolean {
  try {
    return !ed.Point.fromBytes(bytes, false).isSmallOrder()
  } catch {
    return false
  }
}

/** Whether `signature` is a valid strict signature of `message` by `publicKey` (see header). */
export function ed25519Verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array
): boolean {
  if (signature.length !== ED25519_SIG_LENGTH || publicKey.length !== ED25519_KEY_LENGTH) {
    return false
  }
  // Current BoringSSL refuses S ≥ L as well; checked here so the policy does not rest on it.
  if (!isCanonicalScalar(signature.subarray(32))) return false
  if (!isStrictPoint(publicKey) || !isStrictPoint(signature.subarray(0, 32))) return false
  try {
    const key = createPublicKey({
      key: Buffer.from(concatBytes(ED25519_SPKI_PREFIX, publicKey)),
      format: 'der',
      type: 'spki',
    })
    return verify(null, message, key, signature)
  } catch {
    return false
  }
}
