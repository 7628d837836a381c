/**
 * Signing of canonical artifact bytes with a local key. The output is always the raw 64-byte
 * detached signature the reference writes to `<file>.sig`.
 */
import { ed25519Sign } from './ed25519.ts'
import type { SigningKey } from './keys.ts'
import { p256Sign } from './p256.ts'

/** The raw 64-byte signature of `message` by `key`. */
export async function signBytes(key: SigningKey, message: Uint8Array): Promise<Uint8Array> {
  return key.algorithm === 'ed25519' ? ed25519Sign(message, key.seed) : p256Sign(key.pkcs8, message)
}
