/**
 * The host identity: an OpenSSH key made by `ssh-keygen -t ed25519` is parsed, signs a CSR the
 * CP-side parser verifies, and only its own certificate is accepted.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseOpenSshPublicKey } from '../crypto/keys.ts'
import { createCsr, parseCsr } from '../pki/csr.ts'
import { removeDir, seedOf, tempDir, testPki, type TestPki } from '../../tests/support/fixtures.ts'
import {
  AgentIdentity,
  checkCertificate,
  IdentityError,
  loadCaBundle,
  loadHostKey,
  remainingFraction,
} from './identity.ts'
import { readTrustFile } from './trust.ts'

let dir = ''
let keyPath = ''
let pki: TestPki

beforeAll(async () => {
  dir = tempDir()
  keyPath = join(dir, 'ssh_host_ed25519_key')
  const gen = Bun.spawnSync([
    'ssh-keygen',
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'web-01',
    '-f',
    keyPath,
  ])
  if (gen.exitCode !== 0) throw new Error(`ssh-keygen failed: ${gen.stderr.toString()}`)
  pki = await testPki()
})
afterAll(() => removeDir(dir))

describe('host key from ssh-keygen', () => {
  test('parses, and its public key is the one in the .pub file', () => {
    const key = loadHostKey(keyPath)
    const pub = parseOpenSshPublicKey(readFileSync(`${keyPath}.pub`, 'utf8'))
    expect(pub.ok).toBe(true)
    expect(pub.ok && Buffer.from(pub.value).equals(Buffer.from(key.publicKey))).toBe(true)
    expect(key.keyPem).toContain('-----BEGIN PRIVATE KEY-----')
  })

  test('signs a CSR (CN = bare hostname) that verifies and carries the same key', async () => {
    const key = loadHostKey(keyPath)
    const csr = await parseCsr(await createCsr({ seed: key.seed, commonName: 'web-01' }))
    expect(csr.ok).toBe(true)
    if (!csr.ok) return
    expect(csr.commonName).toBe('web-01')
    expect(csr.algorithm).toBe('ed25519')
    expect(Buffer.from(csr.publicKeyRaw!).equals(Buffer.from(key.publicKey))).toBe(true)
  })

  test('an unreadable, non-key or non-ed25519 file is one clear error', () => {
    expect(() => loadHostKey(join(dir, 'missing'))).toThrow(
      /cannot read host key .*missing: no such file/
    )
    writeFileSync(join(dir, 'junk'), 'hello')
    expect(() => loadHostKey(join(dir, 'junk'))).toThrow(IdentityError)
    const rsa = join(dir, 'rsa')
    Bun.spawnSync(['ssh-keygen', '-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsa])
    expect(() => loadHostKey(rsa)).toThrow(/not ssh-ed25519/)
  })
})

describe('certificates', () => {
  test("the issued certificate is accepted; another host's is refused", async () => {
    const key = loadHostKey(keyPath)
    const mine = await pki.clientFor('web-01', key.seed)
    const theirs = await pki.clientFor('web-02', seedOf('other'))
    const id = new AgentIdentity(key, pki.ca.certPem)
    expect(id.enrolled).toBe(false)
    expect(id.tls()).toEqual({ ca: pki.ca.certPem })
    const validity = id.setCertificate(mine.certPem, 'cert')
    expect(validity.notAfterMs - validity.notBeforeMs).toBe(3600_000)
    expect(id.tls()).toEqual({ ca: pki.ca.certPem, cert: mine.certPem, key: key.keyPem })
    expect(() => checkCertificate(theirs.certPem, key, 'client certificate x.crt')).toThrow(
      'client certificate x.crt: certificate does not belong to the host key'
    )
    expect(() => checkCertificate('garbage', key, 'c')).toThrow(IdentityError)
  })

  test('remaining fraction of the lifetime', () => {
    const v = { notBeforeMs: 0, notAfterMs: 1000 }
    expect([
      remainingFraction(v, 0),
      remainingFraction(v, 750),
      remainingFraction(v, 2000),
      remainingFraction(v, -5),
    ]).toEqual([1, 0.25, 0, 1])
  })

  test('the CA bundle comes from --ca-cert or the trust file', () => {
    const trustPath = join(dir, 'trust.json')
    writeFileSync(
      trustPath,
      JSON.stringify({
        schemaVersion: 1,
        ciReleaseKey: { current: null },
        rootCaPem: pki.ca.certPem,
      })
    )
    const trust = readTrustFile(trustPath)
    expect(loadCaBundle(undefined, trust)).toBe(pki.ca.certPem)
    const caPath = join(dir, 'ca.pem')
    writeFileSync(caPath, pki.ca.certPem)
    expect(loadCaBundle(caPath, { ...trust, rootCaPem: null })).toBe(pki.ca.certPem)
    expect(() => loadCaBundle(undefined, { ...trust, rootCaPem: null })).toThrow('no fleet CA')
  })
})
