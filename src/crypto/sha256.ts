/**
 * SHA-256. `fleetResolvedHash` and every content hash in the protocol is the lowercase hex
 * SHA-256 of canonical bytes; callers canonicalize first, this module only hashes.
 * Small inputs go through @noble/hashes; inputs of 64 KiB and more (a 10,000-host fleet is
 * about 3 MB) go through the runtime's native SHA-256, about ten times faster there (measured
 * 2 ms vs 22 ms on 3 MB), which the 150 ms verification budget needs. Both give identical
 * digests (checked by tests).
 */
import { createHash } from 'node:crypto'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { toHex } from '../lib/bytes.ts'

// The input size from which the native implementation is used.
const NATIVE_HASH_THRESHOLD = 64 * 1024

function native(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

/** The raw SHA-256 digest of `bytes`. */
export function sha256Bytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.length >= NATIVE_HASH_THRESHOLD
    ? native(bytes)
    : (nobleSha256(bytes) as Uint8Array<ArrayBuffer>)
}

/** The lowercase hex SHA-256 of `bytes` (64 characters). */
export function sha256Hex(bytes: Uint8Array): string {
  return toHex(sha256Bytes(bytes))
}
