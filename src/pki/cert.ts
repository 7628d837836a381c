/**
 * Certificate and key-file helpers: parse an X.509 certificate into the few fields the CP and
 * agent use, turn key PEMs into PKCS#8, check that a key belongs to a certificate, and load the
 * fleet CA from its files (spec/protocol.md §7.3 "file backend").
 * Invariants: parsers and checks never throw on untrusted input; they return
 * `{ ok: false, error }` (or `false`) with a reason that never quotes key material. Times are
 * epoch milliseconds. Serial numbers are lowercase hex without DER sign padding.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { bytesEqual, fromHex } from '../lib/bytes.ts'
import { ED25519_SPKI_PREFIX } from '../crypto/ed25519.ts'
import { ed25519SeedToPkcs8Pem, fromPem, toPem } from '../crypto/keys.ts'
import { x509 } from './x509.ts'

/** The outcome of a parse or check that can fail on bad input. */
export type PkiResult<T> = { ok: true; value: T } | { ok: false; error: string }

/** The PEMs of a CA: its certificate and its PKCS#8 private key. */
export type CaPems = { readonly certPem: string; readonly keyPem: string }

/** The fields of a certificate that NixFleet reads. */
export type CertificateInfo = {
  readonly commonName: string
  readonly issuerCommonName: string | undefined
  readonly notBeforeMs: number
  readonly notAfterMs: number
  readonly serialHex: string
  readonly sanDns: readonly string[]
  readonly sanIp: readonly string[]
  /** `serverAuth`, `clientAuth`, or the dotted OID of any other extended key usage. */
  readonly extKeyUsage: readonly string[]
  readonly isCa: boolean
  readonly keyAlgorithm: 'ed25519' | 'ecdsa-p256' | 'other'
  /** The raw key: 32 bytes for ed25519, 65 (0x04‖X‖Y) for P-256; absent for other keys. */
  readonly publicKeyRaw?: Uint8Array
  /** The SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array
}

/** A parsed certificate, or why it was refused. */
export type CertificateResult = ({ ok: true } & CertificateInfo) | { ok: false; error: string }

// Certificates and CSRs we handle are < 2 KiB; the cap keeps a hostile body from costing much.
const MAX_PEM_BYTES = 64 * 1024

// DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480), then the 65-byte uncompressed point.
const SPKI_P256_PREFIX = fromHex('3059301306072a8648ce3d020106082a8648ce3d030107034200')!

const EKU_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
}

/** The key algorithm and raw public key inside an SPKI DER. */
export function splitSpki(spki: Uint8Array): {
  algorithm: 'ed25519' | 'ecdsa-p256' | 'other'
  raw?: Uint8Array
} {
  const head = (prefix: Uint8Array, keyLen: number): Uint8Array | undefined =>
    spki.length === prefix.length + keyLen && bytesEqual(spki.subarray(0, prefix.length), prefix)
      ? spki.slice(prefix.length)
      : undefined
  const ed = head(ED25519_SPKI_PREFIX, 32)
  if (ed) return { algorithm: 'ed25519', raw: ed }
  const p256 = head(SPKI_P256_PREFIX, 65)
  if (p256) return { algorithm: 'ecdsa-p256', raw: p256 }
  return { algorithm: 'other' }
}

/** The DER of the first `label` PEM block of `input`, or why there is none. */
export function pemBody(input: string, label: string): PkiResult<Uint8Array> {
  if (input.length > MAX_PEM_BYTES) return { ok: false, error: `${label} PEM is too large` }
  const der = fromPem(input, label)
  if (!der) return { ok: false, error: `not a ${label} PEM (missing block or bad base64)` }
  if (der.length === 0) return { ok: false, error: `empty ${label} PEM` }
  return { ok: true, value: der }
}

/** The lowercase hex of a DER integer's magnitude (no 0x00 sign byte, no leading zeros). */
function normalizeSerialHex(hex: string): string {
  const h = hex.toLowerCase().replace(/^(?:00)+/, '')
  return h === '' ? '00' : h
}

/** Parses one certificate (PEM, or DER bytes as `getPeerCertificate().raw` gives). */
export function parseCertificate(input: string | Uint8Array): CertificateResult {
  let der: Uint8Array
  if (typeof input === 'string') {
    const body = pemBody(input, 'CERTIFICATE')
    if (!body.ok) return body
    der = body.value
  } else {
    if (input.length === 0 || input.length > MAX_PEM_BYTES) {
      return { ok: false, error: 'certificate DER is empty or too large' }
    }
    der = input
  }
  try {
    const cert = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>)
    const cns = cert.subjectName.getField('CN')
    // Policy: one CN exactly; two CNs would let a verifier and a logger disagree on identity.
    if (cns.length !== 1 || cns[0] === undefined) {
      return { ok: false, error: `certificate must have exactly one CN (has ${cns.length})` }
    }
    const issuerCns = cert.issuerName.getField('CN')
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)
    const names = san?.names.items ?? []
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)
    const bc = cert.getExtension(x509.BasicConstraintsExtension)
    const spki = new Uint8Array(cert.publicKey.rawData)
    const key = splitSpki(spki)
    return {
      ok: true,
      commonName: cns[0],
      issuerCommonName: issuerCns.length === 1 ? issuerCns[0] : undefined,
      notBeforeMs: cert.notBefore.getTime(),
      notAfterMs: cert.notAfter.getTime(),
      serialHex: normalizeSerialHex(cert.serialNumber),
      sanDns: names.filter((n) => n.type === 'dns').map((n) => n.value),
      sanIp: names.filter((n) => n.type === 'ip').map((n) => n.value),
      extKeyUsage: (eku?.usages ?? []).map((u) => EKU_NAMES[String(u)] ?? String(u)),
      isCa: bc?.ca === true,
      keyAlgorithm: key.algorithm,
      ...(key.raw ? { publicKeyRaw: key.raw } : {}),
      spki,
    }
  } catch {
    return { ok: false, error: 'malformed X.509 certificate' }
  }
}

/** The PKCS#8 PEM of an ed25519 seed: the agent's TLS key, derived from the SSH host key. */
export function ed25519KeyPemFromSeed(seed: Uint8Array): string {
  if (seed.length !== 32) throw new Error(`ed25519 seed must be 32 bytes, got ${seed.length}`)
  return ed25519SeedToPkcs8Pem(seed)
}

/** The private key of a PEM holding a PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY` block. */
function privateKeyObject(pem: string): PkiResult<KeyObject> {
  if (pem.length > MAX_PEM_BYTES) return { ok: false, error: 'key PEM is too large' }
  // The reference accepts `openssl ecparam -genkey` output; its EC PARAMETERS block is skipped.
  const label = pem.includes('-----BEGIN PRIVATE KEY-----')
    ? 'PRIVATE KEY'
    : pem.includes('-----BEGIN EC PRIVATE KEY-----')
      ? 'EC PRIVATE KEY'
      : undefined
  if (!label) return { ok: false, error: 'expected a PRIVATE KEY or EC PRIVATE KEY PEM block' }
  const der = fromPem(pem, label)
  if (!der) return { ok: false, error: `malformed ${label} PEM` }
  try {
    const key = createPrivateKey({ key: toPem(label, der), format: 'pem' })
    return { ok: true, value: key }
  } catch {
    return { ok: false, error: `unreadable ${label}` }
  }
}

/** The key of `pem` re-encoded as PKCS#8 PEM, with its algorithm (`ecdsa-p256`, `ed25519`). */
export function normalizePrivateKeyPem(
  pem: string
): PkiResult<{ pkcs8Pem: string; algorithm: 'ecdsa-p256' | 'ed25519' | 'other' }> {
  const key = privateKeyObject(pem)
  if (!key.ok) return key
  const k = key.value
  const algorithm =
    k.asymmetricKeyType === 'ed25519'
      ? 'ed25519'
      : k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1'
        ? 'ecdsa-p256'
        : 'other'
  const der = new Uint8Array(k.export({ type: 'pkcs8', format: 'der' }))
  return { ok: true, value: { pkcs8Pem: toPem('PRIVATE KEY', der), algorithm } }
}

/** Whether the private key in `keyPem` is the key certified by `certPem` (false on any error). */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  const key = privateKeyObject(keyPem)
  const cert = parseCertificate(certPem)
  if (!key.ok || !cert.ok) return false
  try {
    const spki = new Uint8Array(createPublicKey(key.value).export({ type: 'spki', format: 'der' }))
    return bytesEqual(spki, cert.spki)
  } catch {
    return false
  }
}

/** The CA PEMs after checking them: a CA certificate, a P-256 key, and the two matching. */
export function checkCaPems(pems: CaPems): PkiResult<CaPems> {
  const cert = parseCertificate(pems.certPem)
  if (!cert.ok) return { ok: false, error: `CA certificate: ${cert.error}` }
  if (!cert.isCa) return { ok: false, error: 'CA certificate lacks basicConstraints cA=true' }
  const key = normalizePrivateKeyPem(pems.keyPem)
  if (!key.ok) return { ok: false, error: `CA key: ${key.error}` }
  // Policy: the issuance CA is ECDSA P-256, as the reference's file and TPM backends are.
  if (key.value.algorithm !== 'ecdsa-p256') return { ok: false, error: 'CA key is not P-256' }
  if (!keyMatchesCertificate(key.value.pkcs8Pem, pems.certPem)) {
    return { ok: false, error: 'CA key does not match the CA certificate' }
  }
  const certDer = pemBody(pems.certPem, 'CERTIFICATE')
  if (!certDer.ok) return certDer
  return {
    ok: true,
    value: { certPem: toPem('CERTIFICATE', certDer.value), keyPem: key.value.pkcs8Pem },
  }
}

/** Reads and checks the fleet CA from its certificate and key files. */
export async function readCaFiles(paths: {
  certPath: string
  keyPath: string
}): Promise<PkiResult<CaPems>> {
  let certPem: string
  let keyPem: string
  try {
    certPem = await readFile(paths.certPath, 'utf8')
  } catch (e) {
    return { ok: false, error: `cannot read CA certificate ${paths.certPath}: ${errCode(e)}` }
  }
  try {
    keyPem = await readFile(paths.keyPath, 'utf8')
  } catch (e) {
    return { ok: false, error: `cannot read CA key ${paths.keyPath}: ${errCode(e)}` }
  }
  return checkCaPems({ certPem, keyPem })
}

function errCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'read error'
}
