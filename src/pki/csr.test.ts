/** CSR creation from an ed25519 seed, and the untrusted-input parser with its signature check. */
import { describe, expect, test } from 'bun:test'
import type { JsonName } from '@peculiar/x509'
import { ed25519PublicKey, ed25519RandomSeed } from '../crypto/ed25519.ts'
import { fromPem, toPem } from '../crypto/keys.ts'
import { toHex } from '../lib/bytes.ts'
import { createCsr, parseCsr } from './csr.ts'
import { x509 } from './x509.ts'

// Made by `openssl req -new` (OpenSSL 3.0) with an ed25519 key: proves interop with CSRs not
// built by our own code (the reference agent uses rcgen, which emits the same structure).
const OPENSSL_ED25519_CSR = `-----BEGIN CERTIFICATE REQUEST-----
MIGdMFECAQAwHjEcMBoGA1UEAwwTYWdlbnQtaDEuZmxlZXQudGVzdDAqMAUGAytl
cAMhAG7EJ+cY8zjs/QmTh63bgpkSBs4SYNxiBURoA6IFvhwooAAwBQYDK2VwA0EA
a+tHlYs/Sww00V5PigeJ0YTXG9un5FcMYTxB7YInRvVXNLT+4iYRJ8KlgqvqFhIv
jG9TKQdLuwGjIByhB9gQAA==
-----END CERTIFICATE REQUEST-----
`
const OPENSSL_ED25519_KEY_HEX = '6ec427e718f338ecfd099387addb82991206ce1260dc6205446803a205be1c28'

/** The CSR PEM with its DER bytes changed by `edit`. */
function tamper(pem: string, edit: (der: Uint8Array) => void): string {
  const der = fromPem(pem, 'CERTIFICATE REQUEST')!.slice()
  edit(der)
  return toPem('CERTIFICATE REQUEST', der)
}

async function p256Csr(name: JsonName): Promise<string> {
  const keys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  })
  return csr.toString('pem')
}

describe('createCsr → parseCsr', () => {
  test('round trip: CN and the raw ed25519 key of the seed', async () => {
    const seed = ed25519RandomSeed()
    const pem = await createCsr({ seed, commonName: 'web-1' })
    expect(pem.startsWith('-----BEGIN CERTIFICATE REQUEST-----\n')).toBe(true)
    const parsed = await parseCsr(pem)
    if (!parsed.ok || parsed.algorithm !== 'ed25519') throw new Error(JSON.stringify(parsed))
    expect(parsed.commonName).toBe('web-1')
    expect(toHex(parsed.publicKeyRaw)).toBe(toHex(ed25519PublicKey(seed)))
    expect(parsed.spki.length).toBe(44)
  })

  test('the same seed always yields the same key (renewal reuses the SSH key)', async () => {
    const seed = ed25519RandomSeed()
    const a = await parseCsr(await createCsr({ seed, commonName: 'h' }))
    const b = await parseCsr(await createCsr({ seed, commonName: 'h' }))
    if (!a.ok || !b.ok) throw new Error('parse failed')
    expect(toHex(a.spki)).toBe(toHex(b.spki))
  })

  test('parses and verifies an OpenSSL-made ed25519 CSR', async () => {
    const parsed = await parseCsr(OPENSSL_ED25519_CSR)
    if (!parsed.ok || parsed.algorithm !== 'ed25519') throw new Error(JSON.stringify(parsed))
    expect(parsed.commonName).toBe('agent-h1.fleet.test')
    expect(toHex(parsed.publicKeyRaw)).toBe(OPENSSL_ED25519_KEY_HEX)
  })

  test('createCsr refuses a seed of the wrong length', async () => {
    await expect(createCsr({ seed: new Uint8Array(31), commonName: 'h' })).rejects.toThrow(
      '32 bytes'
    )
  })
})

describe('parseCsr refuses', () => {
  test('a flipped byte in the signature', async () => {
    const pem = await createCsr({ seed: ed25519RandomSeed(), commonName: 'web-1' })
    const bad = tamper(pem, (der) => {
      der[der.length - 1]! ^= 0x01
    })
    expect(await parseCsr(bad)).toEqual({ ok: false, error: 'CSR signature does not verify' })
  })

  test('a changed subject (signature no longer covers it)', async () => {
    const pem = await createCsr({ seed: ed25519RandomSeed(), commonName: 'web-1' })
    const bad = tamper(pem, (der) => {
      const at = toHex(der).indexOf(toHex(new TextEncoder().encode('web-1'))) / 2
      der[at + 4] = '2'.charCodeAt(0)
    })
    expect(await parseCsr(bad)).toEqual({ ok: false, error: 'CSR signature does not verify' })
  })

  test('a CSR whose key was swapped for another one', async () => {
    const pem = await createCsr({ seed: ed25519RandomSeed(), commonName: 'web-1' })
    const other = ed25519PublicKey(ed25519RandomSeed())
    const bad = tamper(pem, (der) => {
      const spkiAt = toHex(der).indexOf('302a300506032b6570032100') / 2
      der.set(other, spkiAt + 12)
    })
    expect(await parseCsr(bad)).toEqual({ ok: false, error: 'CSR signature does not verify' })
  })

  test('garbage of every kind, without throwing', async () => {
    const inputs: unknown[] = [
      '',
      'hello',
      '-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n',
      toPem('CERTIFICATE REQUEST', crypto.getRandomValues(new Uint8Array(200))),
      toPem('CERTIFICATE REQUEST', new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])),
      OPENSSL_ED25519_CSR.replace('CERTIFICATE REQUEST', 'CERTIFICATE').replace(
        'END CERTIFICATE REQUEST',
        'END CERTIFICATE'
      ),
      `${'A'.repeat(100_000)}`,
      toPem('CERTIFICATE REQUEST', new Uint8Array(100_000)),
      42,
      null,
    ]
    for (const input of inputs) {
      const result = await parseCsr(input as string)
      expect(result.ok).toBe(false)
    }
  })

  test('a CSR with two CNs or none', async () => {
    expect(await parseCsr(await p256Csr([{ CN: ['a'] }, { CN: ['b'] }]))).toEqual({
      ok: false,
      error: 'CSR must have exactly one non-empty CN (has 2)',
    })
    expect(await parseCsr(await p256Csr([{ O: ['nixfleet'] }]))).toEqual({
      ok: false,
      error: 'CSR must have exactly one non-empty CN (has 0)',
    })
  })
})

test('parseCsr reports a P-256 key as such (the CP refuses non-ed25519 keys itself)', async () => {
  const parsed = await parseCsr(await p256Csr([{ CN: ['op'] }]))
  if (!parsed.ok) throw new Error(parsed.error)
  expect(parsed.algorithm).toBe('ecdsa-p256')
  expect(parsed.publicKeyRaw?.length).toBe(65)
})
