/**
 * The agent's identity (protocol §7.1, DECISIONS §5): the TLS key *is* the host's SSH ed25519
 * key (OpenSSH format → 32-byte seed → PKCS#8 PEM, in memory only), the certificate is the one
 * the CP issued for it, and the fleet CA authenticates the CP.
 *
 * Invariants:
 * - The private key never leaves memory in PEM form; only the certificate is written to disk.
 * - A certificate that does not belong to the key is refused at load time: Bun's fetch reports
 *   such a pair as a misleading FailedToOpenSocket, so it must be caught here with a clear line.
 * - `tls()` returns the identity current at the call, so a renewed certificate is used by the
 *   next request without restarting workers.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ed25519PublicKey } from '../crypto/ed25519.ts'
import {
  ed25519SeedToPkcs8Pem,
  ed25519Spki,
  parseOpenSshPublicKey,
  parseSigningKey,
} from '../crypto/keys.ts'
import type { TlsMaterial } from './cp-client.ts'
import { bytesEqual } from '../lib/bytes.ts'
import type { TrustFile } from '../proto/trust.ts'
import { fsReason, readFileIfExists } from '../runtime/durable-fs.ts'

// Certificates are parsed with the runtime's X509Certificate rather than src/pki (which loads
// @peculiar/x509): the agent only needs the validity window and the public key, and keeping
// the library out of the resident daemon saves several MB of its footprint budget.
// PEM certificates we read are ~1 KiB; the cap keeps a hostile file from costing much.
const MAX_CERT_PEM_BYTES = 64 * 1024

/** The validity window and SubjectPublicKeyInfo of a PEM certificate, or why it is unusable. */
export function readCertificate(
  pem: string
):
  | { ok: true; notBeforeMs: number; notAfterMs: number; spki: Uint8Array }
  | { ok: false; error: string } {
  if (pem.length > MAX_CERT_PEM_BYTES || !pem.includes('-----BEGIN CERTIFICATE-----')) {
    return { ok: false, error: 'not a PEM certificate' }
  }
  try {
    const cert = new X509Certificate(pem)
    const spki = new Uint8Array(cert.publicKey.export({ type: 'spki', format: 'der' }))
    return {
      ok: true,
      notBeforeMs: cert.validFromDate.getTime(),
      notAfterMs: cert.validToDate.getTime(),
      spki,
    }
  } catch {
    return { ok: false, error: 'malformed X.509 certificate' }
  }
}

/** A problem with the identity inputs, as one operator-readable line. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError'
}

/** The host key: its seed, public key and the PKCS#8 PEM handed to TLS. */
export type HostKey = {
  readonly seed: Uint8Array
  readonly publicKey: Uint8Array
  readonly keyPem: string
}

/** The validity window of a certificate (epoch ms). */
export type CertValidity = { readonly notBeforeMs: number; readonly notAfterMs: number }

/** Reads the host's ed25519 key (OpenSSH, PKCS#8 PEM, raw 32 bytes or 64 hex chars). */
export function loadHostKey(path: string): HostKey {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(readFileSync(path))
  } catch (e) {
    throw new IdentityError(`cannot read host key ${path}: ${fsReason(e)}`)
  }
  const parsed = parseSigningKey(bytes)
  if (!parsed.ok) throw new IdentityError(`host key ${path}: ${parsed.error}`)
  if (parsed.value.algorithm !== 'ed25519') {
    throw new IdentityError(
      `host key ${path}: expected an ed25519 key, got ${parsed.value.algorithm}`
    )
  }
  const seed = parsed.value.seed
  return { seed, publicKey: ed25519PublicKey(seed), keyPem: ed25519SeedToPkcs8Pem(seed) }
}

/**
 * The host's SSH public key (evidence probes sign with it): `<path>.pub` when present, else
 * derived from the private key at `path`. Read at each call, so a rotated key is picked up.
 */
export function readHostPublicKey(
  path: string
): { ok: true; key: Uint8Array } | { ok: false; error: string } {
  const pub = readFileIfExists(`${path}.pub`)
  if (pub) {
    const k = parseOpenSshPublicKey(new TextDecoder().decode(pub))
    return k.ok ? { ok: true, key: k.value } : { ok: false, error: `${path}.pub: ${k.error}` }
  }
  try {
    return { ok: true, key: loadHostKey(path).publicKey }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) }
  }
}

/** The fleet CA bundle: `--ca-cert` when given, else the trust file's CA PEMs. */
export function loadCaBundle(caCertPath: string | undefined, trust: TrustFile): string {
  if (caCertPath !== undefined) {
    let pem: string
    try {
      pem = readFileSync(caCertPath, 'utf8')
    } catch (e) {
      throw new IdentityError(`cannot read CA certificate ${caCertPath}: ${fsReason(e)}`)
    }
    if (!readCertificate(pem).ok) {
      throw new IdentityError(`CA certificate ${caCertPath}: not a PEM certificate`)
    }
    return pem
  }
  const pems = [trust.rootCaPem, ...trust.issuanceCaPems].filter(
    (p): p is string => typeof p === 'string' && p.length > 0
  )
  if (pems.length === 0) {
    throw new IdentityError('no fleet CA: pass --ca-cert or set rootCaPem in the trust file')
  }
  return pems.join('\n')
}

/** Checks a certificate PEM against the host key; returns its validity or throws. */
export function checkCertificate(certPem: string, key: HostKey, label: string): CertValidity {
  const cert = readCertificate(certPem)
  if (!cert.ok) throw new IdentityError(`${label}: ${cert.error}`)
  if (!bytesEqual(cert.spki, ed25519Spki(key.publicKey))) {
    throw new IdentityError(`${label}: certificate does not belong to the host key`)
  }
  return { notBeforeMs: cert.notBeforeMs, notAfterMs: cert.notAfterMs }
}

/** The live TLS identity of the agent; swapped atomically on renewal. */
export class AgentIdentity {
  private certPem: string | undefined
  private validity: CertValidity | undefined

  constructor(
    readonly key: HostKey,
    readonly caPem: string
  ) {}

  /** Installs a certificate (checked against the key). */
  setCertificate(certPem: string, label: string): CertValidity {
    const validity = checkCertificate(certPem, this.key, label)
    this.certPem = certPem
    this.validity = validity
    return validity
  }

  /** Whether a client certificate is installed. */
  get enrolled(): boolean {
    return this.certPem !== undefined
  }

  /** The installed certificate's validity, if any. */
  get certValidity(): CertValidity | undefined {
    return this.validity
  }

  /** The TLS material for the next request. */
  tls(): TlsMaterial {
    return this.certPem === undefined
      ? { ca: this.caPem }
      : { ca: this.caPem, cert: this.certPem, key: this.key.keyPem }
  }
}

/** The fraction of `validity` left at `now` (0 when expired, 1 before notBefore). */
export function remainingFraction(validity: CertValidity, now: number): number {
  const life = validity.notAfterMs - validity.notBeforeMs
  if (life <= 0) return 0
  return Math.min(1, Math.max(0, (validity.notAfterMs - now) / life))
}
