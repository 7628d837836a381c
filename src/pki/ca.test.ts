/** The fleet CA and its certificates, read back by our parser and by OpenSSL (node:crypto). */
import { beforeAll, describe, expect, test } from 'bun:test'
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ed25519PublicKey, ed25519RandomSeed } from '../crypto/ed25519.ts'
import { toHex } from '../lib/bytes.ts'
import { createCa, createOperatorCert, issueClientCert, issueServerCert } from './ca.ts'
import {
  checkCaPems,
  ed25519KeyPemFromSeed,
  keyMatchesCertificate,
  normalizePrivateKeyPem,
  parseCertificate,
  pemBody,
  readCaFiles,
  type CaPems,
} from './cert.ts'
import { createCsr, parseCsr } from './csr.ts'
import { agentCommonName } from './identity.ts'
import { x509 } from './x509.ts'

// A fixed instant with a millisecond fraction, to prove truncation to whole seconds.
const NOW = Date.UTC(2026, 0, 15, 12, 30, 45, 678)
const NOW_SECONDS = Date.UTC(2026, 0, 15, 12, 30, 45)
const DAY_MS = 86_400_000
const BACKDATE_MS = 5 * 60_000

let ca: CaPems

beforeAll(async () => {
  ca = await createCa({ commonName: 'NixFleet test CA', validityDays: 3650, now: NOW })
})

/** Parses or fails the test with the parser's reason. */
function parsed(pem: string) {
  const p = parseCertificate(pem)
  if (!p.ok) throw new Error(p.error)
  return p
}

/** Whether OpenSSL (through node:crypto) says `certPem` is signed by the CA. */
function signedByCa(certPem: string, caPems: CaPems = ca): boolean {
  const cert = new X509Certificate(certPem)
  return (
    cert.checkIssued(new X509Certificate(caPems.certPem)) &&
    cert.verify(createPublicKey(caPems.certPem))
  )
}

describe('createCa', () => {
  test('a self-signed P-256 CA with cA, keyCertSign|cRLSign and SKI', () => {
    const c = parsed(ca.certPem)
    expect(c.commonName).toBe('NixFleet test CA')
    expect(c.issuerCommonName).toBe('NixFleet test CA')
    expect(c.isCa).toBe(true)
    expect(c.keyAlgorithm).toBe('ecdsa-p256')
    expect(c.notBeforeMs).toBe(NOW_SECONDS - BACKDATE_MS)
    expect(c.notAfterMs).toBe(NOW_SECONDS + 3650 * DAY_MS)
    const cert = new x509.X509Certificate(ca.certPem)
    const ku = cert.getExtension(x509.KeyUsagesExtension)
    expect(ku?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)
    expect(ku?.critical).toBe(true)
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.critical).toBe(true)
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).not.toBeNull()
    expect(signedByCa(ca.certPem)).toBe(true)
    expect(createPrivateKey(ca.keyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    expect(keyMatchesCertificate(ca.keyPem, ca.certPem)).toBe(true)
    expect(checkCaPems(ca)).toEqual({ ok: true, value: ca })
  })
})

describe('issueClientCert (agent certificates)', () => {
  test('fields from a CSR made by createCsr parse back exactly', async () => {
    const seed = ed25519RandomSeed()
    const csr = await parseCsr(await createCsr({ seed, commonName: 'web-1' }))
    if (!csr.ok) throw new Error(csr.error)
    const cn = agentCommonName('web-1', 'fleet.test')
    const certPem = await issueClientCert({
      ca,
      subjectPublicKey: csr.spki,
      commonName: cn,
      sanDns: cn,
      now: NOW,
      validitySecs: 2_592_000,
      clientAuth: true,
    })
    const c = parsed(certPem)
    expect(c).toMatchObject({
      commonName: 'agent-web-1.fleet.test',
      issuerCommonName: 'NixFleet test CA',
      notBeforeMs: NOW_SECONDS,
      notAfterMs: NOW_SECONDS + 2_592_000_000,
      sanDns: ['agent-web-1.fleet.test'],
      sanIp: [],
      extKeyUsage: ['clientAuth'],
      isCa: false,
      keyAlgorithm: 'ed25519',
    })
    expect(toHex(c.publicKeyRaw!)).toBe(toHex(ed25519PublicKey(seed)))
    // 16 random bytes, positive: exactly 32 hex digits, top bit clear.
    expect(c.serialHex).toMatch(/^[4-7][0-9a-f]{31}$/)
    expect(signedByCa(certPem)).toBe(true)
    // AKI is the CA's SKI, so chain builders find the issuer by key id.
    const aki = new x509.X509Certificate(certPem).getExtension(x509.AuthorityKeyIdentifierExtension)
    const caSki = new x509.X509Certificate(ca.certPem).getExtension(
      x509.SubjectKeyIdentifierExtension
    )
    expect(aki?.keyId).toBe(caSki!.keyId)
    const ski = new x509.X509Certificate(certPem).getExtension(x509.SubjectKeyIdentifierExtension)
    expect(ski).not.toBeNull()
    expect(keyMatchesCertificate(ed25519KeyPemFromSeed(seed), certPem)).toBe(true)
    expect(keyMatchesCertificate(ca.keyPem, certPem)).toBe(false)
  })

  test('serials differ between issuances; a CryptoKey works as the subject key', async () => {
    const keys = (await crypto.subtle.generateKey('Ed25519', true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
    const issueOne = () =>
      issueClientCert({
        ca,
        subjectPublicKey: keys.publicKey,
        commonName: 'agent-h.fleet.test',
        now: NOW,
        validitySecs: 60,
        clientAuth: true,
      })
    const a = parsed(await issueOne())
    const b = parsed(await issueOne())
    expect(a.serialHex).not.toBe(b.serialHex)
    expect(a.notAfterMs - a.notBeforeMs).toBe(60_000)
    expect(a.sanDns).toEqual([])
  })

  test('clientAuth: false leaves the EKU out', async () => {
    const seed = ed25519RandomSeed()
    const csr = await parseCsr(await createCsr({ seed, commonName: 'h' }))
    if (!csr.ok) throw new Error(csr.error)
    const certPem = await issueClientCert({
      ca,
      subjectPublicKey: csr.spki,
      commonName: 'x',
      now: NOW,
      validitySecs: 3600,
      clientAuth: false,
    })
    expect(parsed(certPem).extKeyUsage).toEqual([])
  })

  test('names cannot smuggle extra RDNs', async () => {
    const certPem = await issueClientCert({
      ca,
      subjectPublicKey: (
        (await parseCsr(await createCsr({ seed: ed25519RandomSeed(), commonName: 'h' }))) as {
          spki: Uint8Array
        }
      ).spki,
      commonName: 'agent-x.fleet.test,O=evil+CN=operator-root',
      now: NOW,
      validitySecs: 3600,
      clientAuth: true,
    })
    const cert = new x509.X509Certificate(certPem)
    expect(cert.subjectName.getField('CN')).toEqual(['agent-x.fleet.test,O=evil+CN=operator-root'])
    expect(cert.subjectName.getField('O')).toEqual([])
  })

  test('refuses bad arguments and a CA whose key does not match', async () => {
    const spki = (
      (await parseCsr(await createCsr({ seed: ed25519RandomSeed(), commonName: 'h' }))) as {
        spki: Uint8Array
      }
    ).spki
    const base = { ca, subjectPublicKey: spki, commonName: 'c', now: NOW, clientAuth: true }
    await expect(issueClientCert({ ...base, validitySecs: 0 })).rejects.toThrow('validitySecs')
    await expect(issueClientCert({ ...base, commonName: '', validitySecs: 60 })).rejects.toThrow()
    await expect(
      issueClientCert({ ...base, sanDns: 'bad name', validitySecs: 60 })
    ).rejects.toThrow()
    const other = await createCa({ commonName: 'other', validityDays: 1, now: NOW })
    await expect(
      issueClientCert({
        ...base,
        ca: { certPem: ca.certPem, keyPem: other.keyPem },
        validitySecs: 60,
      })
    ).rejects.toThrow('does not match')
  })
})

describe('issueServerCert', () => {
  test('P-256 key, serverAuth, SAN with DNS names and IPs', async () => {
    const srv = await issueServerCert({
      ca,
      names: ['cp.fleet.test', '127.0.0.1', '::1', 'localhost'],
      now: NOW,
      validityDays: 90,
    })
    const c = parsed(srv.certPem)
    expect(c).toMatchObject({
      commonName: 'cp.fleet.test',
      sanDns: ['cp.fleet.test', 'localhost'],
      extKeyUsage: ['serverAuth'],
      isCa: false,
      keyAlgorithm: 'ecdsa-p256',
      notBeforeMs: NOW_SECONDS - BACKDATE_MS,
      notAfterMs: NOW_SECONDS + 90 * DAY_MS,
    })
    expect(c.sanIp).toHaveLength(2)
    expect(new X509Certificate(srv.certPem).checkIP('::1')).toBe('::1')
    expect(keyMatchesCertificate(srv.keyPem, srv.certPem)).toBe(true)
    expect(signedByCa(srv.certPem)).toBe(true)
  })

  test('refuses no names and malformed names', async () => {
    const base = { ca, now: NOW, validityDays: 1 }
    await expect(issueServerCert({ ...base, names: [] })).rejects.toThrow('at least one')
    await expect(issueServerCert({ ...base, names: ['bad name'] })).rejects.toThrow('not a DNS')
  })
})

describe('createOperatorCert', () => {
  test('round trip: CN operator-<name>, clientAuth, 365 days, matching P-256 key', async () => {
    const op = await createOperatorCert({ ca, name: 'alice@laptop', now: NOW })
    const c = parsed(op.certPem)
    expect(c).toMatchObject({
      commonName: 'operator-alice@laptop',
      extKeyUsage: ['clientAuth'],
      keyAlgorithm: 'ecdsa-p256',
      notBeforeMs: NOW_SECONDS - BACKDATE_MS,
      notAfterMs: NOW_SECONDS + 365 * DAY_MS,
      sanDns: [],
    })
    expect(keyMatchesCertificate(op.keyPem, op.certPem)).toBe(true)
    expect(signedByCa(op.certPem)).toBe(true)
    const short = await createOperatorCert({ ca, name: 'bob', now: NOW, validityDays: 7 })
    expect(parsed(short.certPem).notAfterMs).toBe(NOW_SECONDS + 7 * DAY_MS)
  })
})

describe('CA files', () => {
  test('readCaFiles checks and normalises; SEC1 keys with EC PARAMETERS pass', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nixfleet-pki-'))
    try {
      const sec1 = createPrivateKey(ca.keyPem).export({ type: 'sec1', format: 'pem' }).toString()
      const params =
        '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n'
      await writeFile(join(dir, 'ca.crt'), ca.certPem)
      await writeFile(join(dir, 'ca.key'), params + sec1)
      const loaded = await readCaFiles({
        certPath: join(dir, 'ca.crt'),
        keyPath: join(dir, 'ca.key'),
      })
      expect(loaded).toEqual({ ok: true, value: ca })
      const missing = await readCaFiles({
        certPath: join(dir, 'nope.crt'),
        keyPath: join(dir, 'ca.key'),
      })
      expect(missing).toEqual({
        ok: false,
        error: `cannot read CA certificate ${join(dir, 'nope.crt')}: ENOENT`,
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('checkCaPems refuses a leaf certificate, an ed25519 key and a foreign key', async () => {
    const srv = await issueServerCert({ ca, names: ['x.test'], now: NOW, validityDays: 1 })
    expect(checkCaPems(srv)).toEqual({
      ok: false,
      error: 'CA certificate lacks basicConstraints cA=true',
    })
    const edKey = ed25519KeyPemFromSeed(ed25519RandomSeed())
    expect(checkCaPems({ certPem: ca.certPem, keyPem: edKey })).toEqual({
      ok: false,
      error: 'CA key is not P-256',
    })
    const other = await createCa({ commonName: 'other', validityDays: 1, now: NOW })
    expect(checkCaPems({ certPem: ca.certPem, keyPem: other.keyPem })).toEqual({
      ok: false,
      error: 'CA key does not match the CA certificate',
    })
    expect(checkCaPems({ certPem: 'junk', keyPem: ca.keyPem }).ok).toBe(false)
    expect(checkCaPems({ certPem: ca.certPem, keyPem: 'junk' }).ok).toBe(false)
  })
})

describe('cert helpers', () => {
  test('parseCertificate takes DER too and refuses garbage without throwing', () => {
    const der = pemBody(ca.certPem, 'CERTIFICATE')
    if (!der.ok) throw new Error(der.error)
    expect(parseCertificate(der.value)).toEqual(parseCertificate(ca.certPem))
    for (const bad of ['', 'x', ca.certPem.replace(/[A-Z]/, 'z').slice(0, 200)]) {
      expect(parseCertificate(bad).ok).toBe(false)
    }
    expect(parseCertificate(new Uint8Array(0)).ok).toBe(false)
    expect(parseCertificate(crypto.getRandomValues(new Uint8Array(300))).ok).toBe(false)
  })

  test('ed25519KeyPemFromSeed is the PKCS#8 key of the seed', () => {
    const seed = ed25519RandomSeed()
    const pem = ed25519KeyPemFromSeed(seed)
    const key = createPrivateKey(pem)
    expect(key.asymmetricKeyType).toBe('ed25519')
    const spki = new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }))
    expect(toHex(spki.slice(12))).toBe(toHex(ed25519PublicKey(seed)))
    expect(normalizePrivateKeyPem(pem)).toEqual({
      ok: true,
      value: { pkcs8Pem: pem, algorithm: 'ed25519' },
    })
    expect(() => ed25519KeyPemFromSeed(new Uint8Array(16))).toThrow('32 bytes')
  })

  test('keyMatchesCertificate is false on garbage', () => {
    expect(keyMatchesCertificate('junk', ca.certPem)).toBe(false)
    expect(keyMatchesCertificate(ca.keyPem, 'junk')).toBe(false)
  })
})
