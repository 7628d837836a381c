/**
 * Key encodings: the formats operators hand us, turned into raw key bytes.
 * Private keys: PKCS#8 PEM (ed25519, or P-256 for `ecdsa-p256` signers), unencrypted OpenSSH
 * (`ssh_host_ed25519_key`), 32 raw bytes, or 64 hex characters. Public keys: base64 of the raw
 * bytes, or an OpenSSH `ssh-ed25519 AAAA… comment` line.
 * Invariant: parsers return `{ ok: false, error }` with a reason that never quotes key material.
 */
import { bytesEqual, concatBytes, fromBase64, fromHex, toBase64 } from '../lib/bytes.ts'
import { ED25519_PKCS8_PREFIX, ED25519_SPKI_PREFIX, ed25519PublicKey } from './ed25519.ts'

/** The private key of a signer, by algorithm. */
export type SigningKey =
  | { readonly algorithm: 'ed25519'; readonly seed: Uint8Array }
  | { readonly algorithm: 'ecdsa-p256'; readonly pkcs8: Uint8Array }

/** The outcome of parsing key material. */
export type KeyResult<T> = { ok: true; value: T } | { ok: false; error: string }

// OID 1.2.840.10045.2.1 (id-ecPublicKey) followed by OID 1.2.840.10045.3.1.7 (prime256v1).
const EC_P256_OIDS = fromHex('06072a8648ce3d020106082a8648ce3d030107')!

/** Wraps DER bytes as PEM with the given label. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der)
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/** Decodes the first PEM block with `label`, or `undefined`. */
export function fromPem(text: string, label: string): Uint8Array | undefined {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`)
  const m = re.exec(text)
  if (!m) return undefined
  return fromBase64((m[1] ?? '').replace(/\s+/g, ''))
}

/** The PKCS#8 PEM of an ed25519 seed (what `nixfleet keygen` writes). */
export function ed25519SeedToPkcs8Pem(seed: Uint8Array): string {
  return toPem('PRIVATE KEY', concatBytes(ED25519_PKCS8_PREFIX, seed))
}

/** The SubjectPublicKeyInfo DER of an ed25519 public key. */
export function ed25519Spki(publicKey: Uint8Array): Uint8Array {
  return concatBytes(ED25519_SPKI_PREFIX, publicKey)
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

/** Parses a private key file's contents in any accepted format. */
export function parseSigningKey(content: Uint8Array): KeyResult<SigningKey> {
  if (content.length === 32) return { ok: true, value: { algorithm: 'ed25519', seed: content } }
  const text = new TextDecoder().decode(content).trim()
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    return { ok: true, value: { algorithm: 'ed25519', seed: fromHex(text)! } }
  }
  if (text.includes('-----BEGIN OPENSSH PRIVATE KEY-----')) {
    const seed = parseOpenSshPrivateKey(text)
    return seed.ok ? { ok: true, value: { algorithm: 'ed25519', seed: seed.value } } : seed
  }
  if (text.includes('-----BEGIN PRIVATE KEY-----')) {
    const der = fromPem(text, 'PRIVATE KEY')
    if (!der) return { ok: false, error: 'malformed PEM (bad base64)' }
    if (der.length === 48 && bytesEqual(der.subarray(0, 16), ED25519_PKCS8_PREFIX)) {
      return { ok: true, value: { algorithm: 'ed25519', seed: der.slice(16) } }
    }
    if (indexOfBytes(der, EC_P256_OIDS) >= 0) {
      return { ok: true, value: { algorithm: 'ecdsa-p256', pkcs8: der } }
    }
    return { ok: false, error: 'PKCS#8 key is neither ed25519 nor P-256' }
  }
  if (text.includes('-----BEGIN')) {
    return {
      ok: false,
      error: 'unsupported PEM type (expected PRIVATE KEY or OPENSSH PRIVATE KEY)',
    }
  }
  return {
    ok: false,
    error: `not a private key (expected PKCS#8 PEM, OpenSSH, 32 raw bytes or 64 hex chars; got ${content.length} bytes)`,
  }
}

/** Reads one SSH wire-format string (uint32 length + bytes) at `off`. */
function sshString(buf: Uint8Array, off: number): { value: Uint8Array; next: number } | undefined {
  if (off + 4 > buf.length) return undefined
  const len =
    ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0
  const start = off + 4
  if (start + len > buf.length) return undefined
  return { value: buf.subarray(start, start + len), next: start + len }
}

function sshEncodeString(bytes: Uint8Array): Uint8Array {
  const len = new Uint8Array(4)
  new DataView(len.buffer).setUint32(0, bytes.length)
  return concatBytes(len, bytes)
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)
const decodeAscii = (b: Uint8Array): string => new TextDecoder().decode(b)

/** The 32-byte seed of an unencrypted OpenSSH ed25519 private key. */
function parseOpenSshPrivateKey(text: string): KeyResult<Uint8Array> {
  const bad = (why: string): KeyResult<Uint8Array> => ({
    ok: false,
    error: `OpenSSH private key: ${why}`,
  })
  const blob = fromPem(text, 'OPENSSH PRIVATE KEY')
  if (!blob) return bad('malformed PEM')
  const magic = ascii('openssh-key-v1\0')
  if (!bytesEqual(blob.subarray(0, magic.length), magic)) return bad('missing openssh-key-v1 magic')
  const cipher = sshString(blob, magic.length)
  const kdf = cipher && sshString(blob, cipher.next)
  const kdfOpts = kdf && sshString(blob, kdf.next)
  if (!cipher || !kdf || !kdfOpts) return bad('truncated header')
  if (decodeAscii(cipher.value) !== 'none') return bad('encrypted keys are not supported')
  const nkeys = kdfOpts.next + 4 <= blob.length ? blob[kdfOpts.next + 3] : undefined
  if (nkeys !== 1) return bad('expected exactly one key')
  const pub = sshString(blob, kdfOpts.next + 4)
  const priv = pub && sshString(blob, pub.next)
  if (!pub || !priv) return bad('truncated key section')
  const p = priv.value
  // Two equal check words guard against a wrong passphrase; unencrypted keys still carry them.
  if (p.length < 8 || !bytesEqual(p.subarray(0, 4), p.subarray(4, 8)))
    return bad('check words differ')
  const keyType = sshString(p, 8)
  const pubKey = keyType && sshString(p, keyType.next)
  const secret = pubKey && sshString(p, pubKey.next)
  if (!keyType || !pubKey || !secret) return bad('truncated private section')
  if (decodeAscii(keyType.value) !== 'ssh-ed25519') {
    return bad(`key type ${decodeAscii(keyType.value).slice(0, 20)} is not ssh-ed25519`)
  }
  if (pubKey.value.length !== 32 || secret.value.length !== 64)
    return bad('bad ed25519 key lengths')
  const seed = secret.value.slice(0, 32)
  if (!bytesEqual(ed25519PublicKey(seed), pubKey.value))
    return bad('public and private parts differ')
  return { ok: true, value: seed }
}

/** An unencrypted OpenSSH private key file for an ed25519 seed (as `ssh-keygen -t ed25519` writes). */
export function encodeOpenSshPrivateKey(seed: Uint8Array, comment = ''): string {
  const pub = ed25519PublicKey(seed)
  const pubBlob = concatBytes(sshEncodeString(ascii('ssh-ed25519')), sshEncodeString(pub))
  // Fixed check words keep the output deterministic; they only matter for encrypted keys.
  const check = fromHex('6e667431')!
  let section = concatBytes(
    check,
    check,
    sshEncodeString(ascii('ssh-ed25519')),
    sshEncodeString(pub),
    sshEncodeString(concatBytes(seed, pub)),
    sshEncodeString(ascii(comment))
  )
  const pad: number[] = []
  for (let i = 1; (section.length + pad.length) % 8 !== 0; i++) pad.push(i)
  section = concatBytes(section, Uint8Array.from(pad))
  const blob = concatBytes(
    ascii('openssh-key-v1\0'),
    sshEncodeString(ascii('none')),
    sshEncodeString(ascii('none')),
    sshEncodeString(new Uint8Array(0)),
    fromHex('00000001')!,
    sshEncodeString(pubBlob),
    sshEncodeString(section)
  )
  const b64 = toBase64(blob).match(/.{1,70}/g) ?? []
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`
}

/** The OpenSSH public line `ssh-ed25519 AAAA… [comment]` of a raw ed25519 public key. */
export function formatOpenSshPublicKey(publicKey: Uint8Array, comment?: string): string {
  const blob = concatBytes(sshEncodeString(ascii('ssh-ed25519')), sshEncodeString(publicKey))
  return `ssh-ed25519 ${toBase64(blob)}${comment ? ` ${comment}` : ''}`
}

/** The raw 32-byte key of an OpenSSH `ssh-ed25519` public line. */
export function parseOpenSshPublicKey(line: string): KeyResult<Uint8Array> {
  const parts = line.trim().split(/\s+/)
  if (parts[0] !== 'ssh-ed25519' || !parts[1]) {
    return { ok: false, error: 'expected an "ssh-ed25519 AAAA…" public key line' }
  }
  const blob = fromBase64(parts[1])
  const type = blob && sshString(blob, 0)
  const key = type && blob && sshString(blob, type.next)
  if (!blob || !type || !key || decodeAscii(type.value) !== 'ssh-ed25519') {
    return { ok: false, error: 'malformed ssh-ed25519 key blob' }
  }
  if (key.value.length !== 32) return { ok: false, error: 'ssh-ed25519 key is not 32 bytes' }
  return { ok: true, value: key.value.slice() }
}

/** The raw public key from base64 (32 bytes for ed25519, 64 for P-256) or an OpenSSH line. */
export function parsePublicKey(text: string, expectedLength = 32): KeyResult<Uint8Array> {
  const t = text.trim()
  if (t.startsWith('ssh-ed25519')) return parseOpenSshPublicKey(t)
  const raw = fromBase64(t)
  if (!raw) return { ok: false, error: 'public key is not valid base64' }
  if (raw.length !== expectedLength) {
    return { ok: false, error: `public key is ${raw.length} bytes, expected ${expectedLength}` }
  }
  return { ok: true, value: raw }
}
