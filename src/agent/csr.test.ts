/**
 * The agent's hand-encoded CSR is byte-for-byte the one @peculiar/x509 builds (src/pki), for
 * PrintableString and UTF8String names, and the CP-side parser verifies it; an `ssh-keygen`
 * host key signs it.
 */
import { afterAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { createCsr, parseCsr } from '../pki/csr.ts'
import { hostCsrPem } from './csr.ts'
import { removeDir, seedOf, tempDir } from '../../tests/support/fixtures.ts'
import { loadHostKey } from './identity.ts'

const dir = tempDir()
afterAll(() => removeDir(dir))

test.each(['web-01', 'db.example.org', 'host_with_underscore', 'a'])(
  'CN %s: identical to the library output',
  async (cn) => {
    const seed = seedOf(cn)
    expect(hostCsrPem(seed, cn)).toBe(await createCsr({ seed, commonName: cn }))
    const parsed = await parseCsr(hostCsrPem(seed, cn))
    expect(parsed).toMatchObject({ ok: true, commonName: cn, algorithm: 'ed25519' })
  }
)

test('an ssh-keygen host key signs a CSR the control plane accepts', async () => {
  const keyPath = join(dir, 'ssh_host_ed25519_key')
  expect(
    Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', keyPath]).exitCode
  ).toBe(0)
  const key = loadHostKey(keyPath)
  const parsed = await parseCsr(hostCsrPem(key.seed, 'web-01'))
  expect(parsed.ok && Buffer.from(parsed.publicKeyRaw!).equals(Buffer.from(key.publicKey))).toBe(
    true
  )
})

test('refuses an empty or over-long CN and a bad seed', () => {
  expect(() => hostCsrPem(seedOf('x'), '')).toThrow()
  expect(() => hostCsrPem(seedOf('x'), 'x'.repeat(65))).toThrow()
  expect(() => hostCsrPem(new Uint8Array(31), 'x')).toThrow('32 bytes')
})
