/**
 * Tests of ECDSA P-256 verification: WebCrypto-made signatures verify against raw `X‖Y` keys,
 * high-S signatures (as TPMs emit them) are normalised and accepted, and corrupted or
 * wrongly-sized inputs yield `false`.
 */
import { describe, expect, test } from 'bun:test'
import { toHex } from '../lib/bytes.ts'
import { normalizeLowS, p256PublicKeyFromPkcs8, p256Sign, p256Verify } from './p256.ts'

// The order of the P-256 group (SEC 2 §2.4.2), written out independently of p256.ts.
const N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')

const beToBigInt = (b: Uint8Array): bigint => BigInt(`0x${toHex(b) || '0'}`)
const bigIntToBe32 = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32)
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn)
    n >>= 8n
  }
  return out
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice()
  out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7))
  return out
}

/** The signature with S replaced by N − S (the other of the two valid S values). */
function otherS(sig: Uint8Array): Uint8Array {
  const out = sig.slice()
  out.set(bigIntToBe32(N - beToBigInt(sig.subarray(32))), 32)
  return out
}

async function makeKey(): Promise<{ pair: CryptoKeyPair; xy: Uint8Array; pkcs8: Uint8Array }> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
  expect(raw.length).toBe(65)
  expect(raw[0]).toBe(4)
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey))
  return { pair, xy: raw.slice(1), pkcs8 }
}

async function webCryptoSign(key: CryptoKey, message: Uint8Array): Promise<Uint8Array> {
  const sig = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    message as Uint8Array<ArrayBuffer>
  )
  return new Uint8Array(sig)
}

const message = new TextEncoder().encode('{"schemaVersion":1}')

describe('p256Verify', () => {
  test('a WebCrypto signature verifies with the raw X‖Y key, not with another message or key', async () => {
    const { pair, xy } = await makeKey()
    const other = await makeKey()
    const sig = await webCryptoSign(pair.privateKey, message)
    expect(sig.length).toBe(64)
    expect(await p256Verify(sig, message, xy)).toBe(true)
    expect(await p256Verify(sig, new TextEncoder().encode('{"schemaVersion":2}'), xy)).toBe(false)
    expect(await p256Verify(sig, message, other.xy)).toBe(false)
  })

  test('both the low-S and the high-S (N − S) form of a signature are accepted', async () => {
    const { pair, xy } = await makeKey()
    const sig = await webCryptoSign(pair.privateKey, message)
    const flipped = otherS(sig)
    const s1 = beToBigInt(sig.subarray(32))
    const s2 = beToBigInt(flipped.subarray(32))
    // Exactly one of the two is high-S, whichever WebCrypto produced.
    expect([s1 > N / 2n, s2 > N / 2n].filter(Boolean)).toEqual([true])
    const high = s1 > N / 2n ? sig : flipped
    const low = s1 > N / 2n ? flipped : sig
    expect(await p256Verify(high, message, xy)).toBe(true)
    expect(await p256Verify(low, message, xy)).toBe(true)
    expect(toHex(normalizeLowS(high))).toBe(toHex(low))
    expect(toHex(normalizeLowS(low))).toBe(toHex(low))
  })

  test('every 1-bit flip of message, signature or key is rejected', async () => {
    const { pair, xy } = await makeKey()
    const sig = await webCryptoSign(pair.privateKey, message)
    const failures: string[] = []
    for (let bit = 0; bit < message.length * 8; bit++) {
      if (await p256Verify(sig, flipBit(message, bit), xy)) failures.push(`message bit ${bit}`)
    }
    for (let bit = 0; bit < 512; bit++) {
      if (await p256Verify(flipBit(sig, bit), message, xy)) failures.push(`signature bit ${bit}`)
    }
    for (let bit = 0; bit < 512; bit++) {
      if (await p256Verify(sig, message, flipBit(xy, bit))) failures.push(`key bit ${bit}`)
    }
    expect(failures).toEqual([])
  })

  test('wrong lengths, zero values and S ≥ N return false without throwing', async () => {
    const { pair, xy } = await makeKey()
    const sig = await webCryptoSign(pair.privateKey, message)
    const withSPlusN = sig.slice()
    const sPlusN = beToBigInt(sig.subarray(32)) + N
    // Only representable in 32 bytes when S + N < 2^256, which holds for S < 2^256 − N.
    const cases: [Uint8Array, Uint8Array][] = [
      [sig.subarray(0, 63), xy],
      [new Uint8Array([...sig, 0]), xy],
      [sig, xy.subarray(0, 63)],
      [sig, new Uint8Array([4, ...xy])],
      [new Uint8Array(64), xy],
      [sig, new Uint8Array(64)],
    ]
    if (sPlusN < 2n ** 256n) {
      withSPlusN.set(bigIntToBe32(sPlusN), 32)
      cases.push([withSPlusN, xy])
    }
    for (const [s, k] of cases) expect(await p256Verify(s, message, k)).toBe(false)
  })
})

describe('p256Sign and p256PublicKeyFromPkcs8', () => {
  test('signatures are raw low-S R‖S that WebCrypto verifies; the public key is X‖Y', async () => {
    const { pair, xy, pkcs8 } = await makeKey()
    expect(toHex(await p256PublicKeyFromPkcs8(pkcs8))).toBe(toHex(xy))
    for (let i = 0; i < 8; i++) {
      const m = new TextEncoder().encode(`message ${i}`)
      const sig = await p256Sign(pkcs8, m)
      expect(sig.length).toBe(64)
      expect(beToBigInt(sig.subarray(32)) <= N / 2n).toBe(true)
      const ok = await crypto.subtle.verify(
        { name: 'ECDSA', hash: 'SHA-256' },
        pair.publicKey,
        sig as Uint8Array<ArrayBuffer>,
        m
      )
      expect(ok).toBe(true)
    }
  })
})
