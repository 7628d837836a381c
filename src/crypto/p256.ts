/**
 * ECDSA P-256 (SHA-256) verification through WebCrypto, for trust keys whose algorithm is
 * `ecdsa-p256`. Keys are the reference's 64-byte `X‖Y` (no 0x04 prefix); signatures are raw
 * `R‖S`. Invariant: S is normalised to low-S before verifying (TPMs emit high-S about half the
 * time), and any malformed input yields `false`, never a throw.
 */
import { concatBytes } from '../lib/bytes.ts'

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
const HALF_N = N >> 1n

function toBigInt(bytes: Uint8Array): bigint {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

function to32Bytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(n & 0xffn)
    n >>= 8n
  }
  return out
}

/** The signature with S replaced by N − S when S is in the upper half of the group order. */
export function normalizeLowS(signature: Uint8Array): Uint8Array {
  const s = toBigInt(signature.subarray(32, 64))
  if (s <= HALF_N) return signature
  return concatBytes(signature.subarray(0, 32), to32Bytes(N - s))
}

/** Whether `signature` (raw R‖S) is a valid ECDSA-P256-SHA256 signature by `publicKey` (X‖Y). */
export async function p256Verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array
): Promise<boolean> {
  if (signature.length !== 64 || publicKey.length !== 64) return false
  try {
    const key = await crypto.subtle.importKey(
      'raw',
      concatBytes(Uint8Array.of(4), publicKey) as Uint8Array<ArrayBuffer>,
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify']
    )
    return await crypto.subtle.verify(
      { name: 'ECDSA', hash: 'SHA-256' },
      key,
      normalizeLowS(signature) as Uint8Array<ArrayBuffer>,
      message as Uint8Array<ArrayBuffer>
    )
  } catch {
    return false
  }
}

function importPkcs8(pkcs8: Uint8Array, extractable: boolean): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    'pkcs8',
    pkcs8 as Uint8Array<ArrayBuffer>,
    { name: 'ECDSA', namedCurve: 'P-256' },
    extractable,
    ['sign']
  )
}

/** Signs with a P-256 PKCS#8 private key; the result is raw low-S `R‖S` (64 bytes). */
export async function p256Sign(pkcs8: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const key = await importPkcs8(pkcs8, false)
  const sig = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    message as Uint8Array<ArrayBuffer>
  )
  return normalizeLowS(new Uint8Array(sig))
}

/** The 64-byte `X‖Y` public key of a P-256 PKCS#8 private key. */
export async function p256PublicKeyFromPkcs8(pkcs8: Uint8Array): Promise<Uint8Array> {
  const key = await importPkcs8(pkcs8, true)
  const jwk = await crypto.subtle.exportKey('jwk', key)
  const b64url = (s: string | undefined): Uint8Array =>
    new Uint8Array(Buffer.from(s ?? '', 'base64url'))
  return concatBytes(b64url(jwk.x), b64url(jwk.y))
}
