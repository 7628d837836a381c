/**
 * PKCS#10 certificate signing requests (spec/protocol.md §7.1–7.4): the agent builds one from
 * its SSH host key's ed25519 seed; the CP parses and verifies what agents send to
 * `/v1/enroll` and `/v1/agent/renew`.
 * Invariants: `parseCsr` is the edge for untrusted CSR bytes — it never throws, caps the input
 * size, refuses a CSR whose self-signature does not verify (proof of key possession) and one
 * without exactly one CN; its errors never echo the input. Binding the key to a host and
 * choosing the issued CN are the caller's policy, not this module's.
 */
import { ed25519PublicKey } from '../crypto/ed25519.ts'
import { ed25519SeedToPkcs8Pem, toPem } from '../crypto/keys.ts'
import { pemBody, splitSpki } from './cert.ts'
import { x509 } from './x509.ts'

/** A verified CSR: the key is discriminated by algorithm (ed25519 keys are always 32 bytes). */
export type ParsedCsr =
  | {
      readonly ok: true
      readonly commonName: string
      readonly algorithm: 'ed25519'
      readonly publicKeyRaw: Uint8Array
      readonly spki: Uint8Array
    }
  | {
      readonly ok: true
      readonly commonName: string
      /** `ecdsa-p256` carries the 65-byte 0x04‖X‖Y point; `other` has no raw key. */
      readonly algorithm: 'ecdsa-p256' | 'other'
      readonly publicKeyRaw?: Uint8Array
      readonly spki: Uint8Array
    }

/** The outcome of `parseCsr`. */
export type CsrResult = ParsedCsr | { readonly ok: false; readonly error: string }

const ED25519 = { name: 'Ed25519' } as const

/** A PEM CSR with subject `CN=<commonName>`, signed by the ed25519 key of `seed`. */
export async function createCsr(params: { seed: Uint8Array; commonName: string }): Promise<string> {
  if (params.seed.length !== 32) throw new Error('ed25519 seed must be 32 bytes')
  if (params.commonName.length === 0) throw new Error('CSR common name must be non-empty')
  const pkcs8 = pemBody(ed25519SeedToPkcs8Pem(params.seed), 'PRIVATE KEY')
  if (!pkcs8.ok) throw new Error(pkcs8.error)
  const privateKey = await crypto.subtle.importKey(
    'pkcs8',
    pkcs8.value as Uint8Array<ArrayBuffer>,
    ED25519,
    false,
    ['sign']
  )
  const publicKey = await crypto.subtle.importKey(
    'raw',
    ed25519PublicKey(params.seed) as Uint8Array<ArrayBuffer>,
    ED25519,
    true,
    ['verify']
  )
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [params.commonName] }],
    keys: { privateKey, publicKey },
    signingAlgorithm: ED25519,
  })
  return toPem('CERTIFICATE REQUEST', new Uint8Array(csr.rawData))
}

/** Parses a PEM CSR and verifies its self-signature; never throws. */
export async function parseCsr(pem: string): Promise<CsrResult> {
  if (typeof pem !== 'string') return { ok: false, error: 'CSR must be a PEM string' }
  // Some tools still write the pre-RFC 7468 label; both carry the same DER.
  const label = pem.includes('-----BEGIN NEW CERTIFICATE REQUEST-----')
    ? 'NEW CERTIFICATE REQUEST'
    : 'CERTIFICATE REQUEST'
  const der = pemBody(pem, label)
  if (!der.ok) return der
  let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>
  let spki: Uint8Array
  let cns: string[]
  try {
    csr = new x509.Pkcs10CertificateRequest(der.value as Uint8Array<ArrayBuffer>)
    spki = new Uint8Array(csr.publicKey.rawData)
    cns = csr.subjectName.getField('CN')
  } catch {
    return { ok: false, error: 'malformed PKCS#10 CSR' }
  }
  // Policy: the signature is checked before anything is taken from the CSR, so an attacker
  // cannot get a key bound without holding it.
  let verified = false
  try {
    verified = await csr.verify()
  } catch {
    return { ok: false, error: 'CSR signature algorithm unsupported or key unusable' }
  }
  if (!verified) return { ok: false, error: 'CSR signature does not verify' }
  const commonName = cns[0]
  if (cns.length !== 1 || commonName === undefined || commonName.length === 0) {
    return { ok: false, error: `CSR must have exactly one non-empty CN (has ${cns.length})` }
  }
  const key = splitSpki(spki)
  if (key.algorithm === 'ed25519' && key.raw) {
    return { ok: true, commonName, algorithm: 'ed25519', publicKeyRaw: key.raw, spki }
  }
  return key.algorithm === 'ecdsa-p256' && key.raw
    ? { ok: true, commonName, algorithm: 'ecdsa-p256', publicKeyRaw: key.raw, spki }
    : { ok: true, commonName, algorithm: 'other', spki }
}
