/**
 * The one Ed25519 module: sign and strict RFC 8032 verify over `Uint8Array` only.
 * Invariants: verification uses `{ zip215: false }` (rejects non-canonical encodings and
 * small-order keys, as the reference's `verify_strict` does); wrong lengths and malformed
 * points return `false` and never throw.
 */
import * as ed from '@noble/ed25519'
import { sha512Bytes } from './sha256.ts'

// Enables noble's synchronous API once; without it sync calls throw 'hashes.sha512 not set'.
// Signing hashes the whole message, so multi-MB artifacts take the native path (see sha256.ts).
ed.hashes.sha512 = sha512Bytes

/** The length of an Ed25519 seed (secret key) and of a public key. */
export const ED25519_KEY_LENGTH = 32
/** The length of a raw Ed25519 signature (R‖S). */
export const ED25519_SIG_LENGTH = 64

/** The public key of a 32-byte seed. */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  return ed.getPublicKey(seed)
}

/** A fresh random seed from the platform CSPRNG. */
export function ed25519RandomSeed(): Uint8Array {
  return ed.utils.randomSecretKey()
}

/** The raw 64-byte signature of `message` by `seed`. */
export function ed25519Sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed.sign(message, seed)
}

/** Whether `signature` is a valid strict RFC 8032 signature of `message` by `publicKey`. */
export function ed25519Verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array
): boolean {
  // Policy: check lengths first, since noble throws on them; any throw means "not valid".
  if (signature.length !== ED25519_SIG_LENGTH || publicKey.length !== ED25519_KEY_LENGTH) {
    return false
  }
  try {
    return ed.verify(signature, message, publicKey, { zip215: false })
  } catch {
    return false
  }
}
