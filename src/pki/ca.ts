/**
 * The fleet CA: create it, and issue server, agent and operator certificates from it
 * (spec/protocol.md §7.3, DECISIONS §5).
 * Invariants (do not change without updating the spec notes):
 * - the CA key is ECDSA P-256 and every certificate is signed ECDSA-with-SHA256, as the
 *   reference's file and TPM backends do;
 * - client certificates have notBefore = `now` truncated to whole seconds and
 *   notAfter = notBefore + validity, exactly: revocation compares notBefore with the revocation's
 *   `not_before`, so agent certificates are never backdated;
 * - serials are 16 random bytes with the top bit clear (positive, always 16 bytes in DER);
 * - names are built from structured values, never by parsing `CN=…` strings, so a hostname or
 *   operator name cannot smuggle extra RDNs;
 * - every issued certificate carries AKI (the CA's SKI) and its own SKI.
 * Bad arguments (a malformed CA, an empty name) are programmer or configuration errors and
 * throw; nothing here parses untrusted input (see csr.ts for that).
 */
import { isIP } from 'node:net'
import { toHex } from '../lib/bytes.ts'
import { toPem } from '../crypto/keys.ts'
import { checkCaPems, pemBody, type CaPems } from './cert.ts'
import { type OperatorRole, operatorRoleCommonName } from './identity.ts'
import { x509 } from './x509.ts'

/** A certificate with its freshly generated PKCS#8 private key. */
export type CertAndKey = { readonly certPem: string; readonly keyPem: string }

const DAY_MS = 86_400_000
// CA, server and operator certificates are backdated so a peer whose clock lags the issuer's
// by a few minutes still accepts them right after issuance; five minutes covers NTP-less VMs.
// Agent certificates are not backdated (see the header).
const CLOCK_SKEW_BACKDATE_MS = 5 * 60_000
// Default lifetime of operator certificates, the reference's `mint-operator-cert` value.
const OPERATOR_VALIDITY_DAYS = 365
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const
const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const
const KU = x509.KeyUsageFlags
// A DNS name: dot-separated LDH labels, an optional leading `*.` wildcard label.
const DNS_NAME_RE =
  /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i

/** The CA signing material, checked and imported once per issuance. */
type LoadedCa = { cert: InstanceType<typeof x509.X509Certificate>; key: CryptoKey }

/** Whole seconds: X.509 times carry no fraction, so the stored value must not either. */
function truncateToSeconds(ms: number): number {
  return Math.floor(ms / 1000) * 1000
}

/** A fresh 16-byte positive serial as hex (top bit clear, next bit set: never re-padded). */
function randomSerialHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  bytes[0] = (bytes[0]! & 0x7f) | 0x40
  return toHex(bytes)
}

function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, got ${value}`)
  }
}

function assertNameValue(what: string, value: string): void {
  // Control characters would make logs and DN strings ambiguous; empty names identify nobody.
  if (value.length === 0 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new Error(`${what} must be non-empty printable text`)
  }
}

async function generateP256(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', new Uint8Array(await crypto.subtle.exportKey('pkcs8', key)))
}

async function loadCa(ca: CaPems): Promise<LoadedCa> {
  const checked = checkCaPems(ca)
  if (!checked.ok) throw new Error(`fleet CA unusable: ${checked.error}`)
  const cert = new x509.X509Certificate(checked.value.certPem)
  const pkcs8 = pemBody(checked.value.keyPem, 'PRIVATE KEY')
  if (!pkcs8.ok) throw new Error(`fleet CA unusable: ${pkcs8.error}`)
  const key = await crypto.subtle.importKey(
    'pkcs8',
    pkcs8.value as Uint8Array<ArrayBuffer>,
    P256,
    false,
    ['sign']
  )
  return { cert, key }
}

/** The AKI of certificates issued by `ca`: its SKI when it has one, else derived from its key. */
async function authorityKeyId(ca: LoadedCa) {
  const ski = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension)
  return ski
    ? new x509.AuthorityKeyIdentifierExtension(ski.keyId, false)
    : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey, false)
}

type IssueParams = {
  ca: LoadedCa
  subjectPublicKey: Uint8Array | CryptoKey
  commonName: string
  notBeforeMs: number
  notAfterMs: number
  keyUsage: number
  extKeyUsage: readonly string[]
  san: readonly { type: 'dns' | 'ip'; value: string }[]
}

async function issue(p: IssueParams): Promise<string> {
  const publicKey = await x509.PublicKey.create(
    p.subjectPublicKey instanceof Uint8Array
      ? (p.subjectPublicKey as Uint8Array<ArrayBuffer>)
      : p.subjectPublicKey
  )
  const extensions: InstanceType<typeof x509.Extension>[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(p.keyUsage, true),
  ]
  if (p.extKeyUsage.length > 0) {
    extensions.push(new x509.ExtendedKeyUsageExtension([...p.extKeyUsage], false))
  }
  if (p.san.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension([...p.san], false))
  }
  extensions.push(await authorityKeyId(p.ca))
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(publicKey, false))
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: [{ CN: [p.commonName] }],
    // The CA's own encoded name, byte for byte, so chain building never depends on re-encoding.
    issuer: p.ca.cert.subjectName,
    notBefore: new Date(p.notBeforeMs),
    notAfter: new Date(p.notAfterMs),
    publicKey,
    signingKey: p.ca.key,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  })
  return toPem('CERTIFICATE', new Uint8Array(cert.rawData))
}

/** Creates a self-signed P-256 fleet CA (cA=true, keyCertSign|cRLSign, SKI). */
export async function createCa(params: {
  commonName: string
  validityDays: number
  now: number
}): Promise<CertAndKey> {
  assertNameValue('CA common name', params.commonName)
  assertPositiveInteger('validityDays', params.validityDays)
  const keys = await generateP256()
  const notBefore = truncateToSeconds(params.now - CLOCK_SKEW_BACKDATE_MS)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: [{ CN: [params.commonName] }],
    notBefore: new Date(notBefore),
    notAfter: new Date(truncateToSeconds(params.now) + params.validityDays * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      // No path length: the fleet CA signs leaves only, but a cap would block a future
      // intermediate for a TPM-backed issuer without re-creating the root.
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(KU.keyCertSign | KU.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
    ],
  })
  return {
    certPem: toPem('CERTIFICATE', new Uint8Array(cert.rawData)),
    keyPem: await privateKeyPem(keys.privateKey),
  }
}

/** Issues the CP's TLS server certificate (P-256 key, serverAuth, SAN of DNS names and IPs). */
export async function issueServerCert(params: {
  ca: CaPems
  names: readonly string[]
  now: number
  validityDays: number
}): Promise<CertAndKey> {
  assertPositiveInteger('validityDays', params.validityDays)
  if (params.names.length === 0) throw new Error('a server certificate needs at least one name')
  const san = params.names.map((name) => {
    if (isIP(name) !== 0) return { type: 'ip' as const, value: name }
    if (!DNS_NAME_RE.test(name)) throw new Error(`not a DNS name or IP address: ${name}`)
    return { type: 'dns' as const, value: name.toLowerCase() }
  })
  const ca = await loadCa(params.ca)
  const keys = await generateP256()
  const certPem = await issue({
    ca,
    subjectPublicKey: keys.publicKey,
    // TLS clients match the SAN only; the CN is informational (first DNS name, else first IP).
    commonName: (san.find((n) => n.type === 'dns') ?? san[0]!).value,
    notBeforeMs: truncateToSeconds(params.now - CLOCK_SKEW_BACKDATE_MS),
    notAfterMs: truncateToSeconds(params.now) + params.validityDays * DAY_MS,
    keyUsage: KU.digitalSignature,
    extKeyUsage: [x509.ExtendedKeyUsage.serverAuth],
    san,
  })
  return { certPem, keyPem: await privateKeyPem(keys.privateKey) }
}

/** Issues a client certificate for a given public key (an agent's ed25519 key from its CSR). */
export async function issueClientCert(params: {
  ca: CaPems
  /** SubjectPublicKeyInfo DER (as `parseCsr` returns in `spki`) or a public CryptoKey. */
  subjectPublicKey: Uint8Array | CryptoKey
  commonName: string
  /** The SAN dNSName; agents use their CN here (rustls/webpki need a SAN). */
  sanDns?: string
  now: number
  validitySecs: number
  /** Whether to set EKU clientAuth (OpenSSL then refuses the cert for any other purpose). */
  clientAuth: boolean
}): Promise<string> {
  assertNameValue('client common name', params.commonName)
  assertPositiveInteger('validitySecs', params.validitySecs)
  if (params.sanDns !== undefined && !DNS_NAME_RE.test(params.sanDns)) {
    throw new Error(`SAN is not a DNS name: ${params.sanDns}`)
  }
  const ca = await loadCa(params.ca)
  const notBeforeMs = truncateToSeconds(params.now)
  return issue({
    ca,
    subjectPublicKey: params.subjectPublicKey,
    commonName: params.commonName,
    notBeforeMs,
    notAfterMs: notBeforeMs + params.validitySecs * 1000,
    keyUsage: KU.digitalSignature,
    extKeyUsage: params.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : [],
    san: params.sanDns !== undefined ? [{ type: 'dns', value: params.sanDns }] : [],
  })
}

/** Issues an operator certificate `operator-<name>` with a fresh P-256 key (clientAuth). */
export async function createOperatorCert(params: {
  ca: CaPems
  name: string
  now: number
  validityDays?: number
  /** `viewer` issues a read-only `viewer-NAME` certificate; `operator` (default) `operator-NAME`. */
  role?: OperatorRole
}): Promise<CertAndKey> {
  assertNameValue('operator name', params.name)
  const validityDays = params.validityDays ?? OPERATOR_VALIDITY_DAYS
  assertPositiveInteger('validityDays', validityDays)
  const ca = await loadCa(params.ca)
  // P-256 rather than ed25519: every TLS stack an operator may drive (curl builds, browsers,
  // macOS/Windows keychains) takes P-256 client keys; ed25519 client keys are patchier.
  const keys = await generateP256()
  const certPem = await issue({
    ca,
    subjectPublicKey: keys.publicKey,
    commonName: operatorRoleCommonName(params.role ?? 'operator', params.name),
    notBeforeMs: truncateToSeconds(params.now - CLOCK_SKEW_BACKDATE_MS),
    notAfterMs: truncateToSeconds(params.now) + validityDays * DAY_MS,
    keyUsage: KU.digitalSignature,
    extKeyUsage: [x509.ExtendedKeyUsage.clientAuth],
    san: [],
  })
  return { certPem, keyPem: await privateKeyPem(keys.privateKey) }
}
