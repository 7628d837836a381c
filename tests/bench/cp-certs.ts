/**
 * Fast issuance of many real agent client certificates for the control-plane benchmark.
 * Building a certificate with `@peculiar/x509` costs ~5 ms (ASN.1 object building), so 10,000
 * agents would need close to a minute before the benchmark even starts. Here one certificate
 * is built properly as a template; each further one is the template's to-be-signed bytes with
 * the serial and the fixed-width host name patched in, re-signed with the CA key (ECDSA
 * P-256/SHA-256, DER). The results are ordinary X.509 certificates the CP verifies like any
 * other: the shortcut is in how the bytes are produced, not in what they are.
 * Invariant: every host name has the same length (`h000042`), so patching never changes a
 * DER length.
 */
import { createPrivateKey, sign } from 'node:crypto'
import { x509 } from '../../src/pki/x509.ts'
import { pemBody, type CaPems } from '../../src/pki/cert.ts'
import { toPem } from '../../src/crypto/keys.ts'
import { agentCommonName } from '../../src/pki/identity.ts'

/** The fixed-width benchmark host name of agent `i`. */
export function benchHost(i: number): string {
  return `h${String(i).padStart(6, '0')}`
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

function derTlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body])
}

/** Splits a DER SEQUENCE into its child elements (raw TLVs). */
function children(der: Buffer): Buffer[] {
  let off = 1
  const first = der[off]!
  off += first < 0x80 ? 1 : 1 + (first & 0x7f)
  const out: Buffer[] = []
  while (off < der.length) {
    const start = off
    off++
    const l = der[off]!
    let len: number
    if (l < 0x80) {
      len = l
      off++
    } else {
      const k = l & 0x7f
      len = 0
      for (let j = 1; j <= k; j++) len = (len << 8) | der[off + j]!
      off += 1 + k
    }
    off += len
    out.push(der.subarray(start, off))
  }
  return out
}

/** Issues `count` agent certificates (CN = SAN = agent-h000000.<suffix>, …) for one SPKI. */
export async function issueBenchCerts(
  ca: CaPems,
  spki: Uint8Array,
  suffix: string,
  count: number
): Promise<string[]> {
  const caCert = new x509.X509Certificate(ca.certPem)
  const pkcs8 = pemBody(ca.keyPem, 'PRIVATE KEY')
  if (!pkcs8.ok) throw new Error(`bench CA key: ${pkcs8.error}`)
  const key = await crypto.subtle.importKey(
    'pkcs8',
    pkcs8.value as Uint8Array<ArrayBuffer>,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign']
  )
  const templateHost = benchHost(0)
  const cn = agentCommonName(templateHost, suffix)
  const serial = '4e'.repeat(16)
  const now = Date.now()
  const template = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: [{ CN: [cn] }],
    issuer: caCert.subjectName,
    notBefore: new Date(Math.floor((now - 3600_000) / 1000) * 1000),
    notAfter: new Date(Math.floor((now + 7 * 86_400_000) / 1000) * 1000),
    publicKey: await x509.PublicKey.create(spki as Uint8Array<ArrayBuffer>),
    signingKey: key,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: cn }], false),
    ],
  })
  const der = Buffer.from(template.rawData)
  const [tbs, alg] = children(der) as [Buffer, Buffer]
  const caKey = createPrivateKey({ key: ca.keyPem, format: 'pem' })
  const serialBytes = Buffer.from(serial, 'hex')
  const serialAt = tbs.indexOf(serialBytes)
  const hostBytes = Buffer.from(templateHost)
  const hostAt: number[] = []
  for (let i = tbs.indexOf(hostBytes); i >= 0; i = tbs.indexOf(hostBytes, i + 1)) hostAt.push(i)
  if (serialAt < 0 || hostAt.length !== 2)
    throw new Error('certificate template has an unexpected shape')
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const t = Buffer.from(tbs)
    const s = Buffer.from(crypto.getRandomValues(new Uint8Array(16)))
    s[0] = (s[0]! & 0x7f) | 0x40
    s.copy(t, serialAt)
    const host = Buffer.from(benchHost(i))
    for (const at of hostAt) host.copy(t, at)
    const sig = sign('sha256', t, { key: caKey, dsaEncoding: 'der' })
    const cert = derTlv(
      0x30,
      Buffer.concat([t, alg, derTlv(0x03, Buffer.concat([Buffer.from([0]), sig]))])
    )
    out.push(toPem('CERTIFICATE', cert))
  }
  return out
}
