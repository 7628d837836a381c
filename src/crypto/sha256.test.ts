import { expect, test } from 'bun:test'
import { sha256 } from '@noble/hashes/sha2.js'
import { toHex } from '../lib/bytes.ts'
import { sha256Bytes, sha256Hex } from './sha256.ts'

test('the native path (64 KiB and more) and the noble path give the same digest', () => {
  for (const n of [0, 1, 64 * 1024 - 1, 64 * 1024, 3 * 1024 * 1024]) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff)
    expect(toHex(sha256Bytes(bytes))).toBe(toHex(sha256(bytes)))
  }
  expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
  )
})
