/**
 * Tests of key encodings: every private-key format operators hand us (PKCS#8 PEM for ed25519 and
 * P-256, raw bytes, hex, OpenSSH — ours and a real ssh-keygen one when available), the formats we
 * refuse, the rule that errors never quote key material, and public-key parsing.
 */
import { describe, expect, test } from 'bun:test'
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { concatBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from '../lib/bytes.ts'
import { ed25519PublicKey } from './ed25519.ts'
import {
  encodeOpenSshPrivateKey,
  ed25519SeedToPkcs8Pem,
  formatOpenSshPublicKey,
  parseOpenSshPublicKey,
  parsePublicKey,
  parseSigningKey,
  toPem,
} from './keys.ts'

// RFC 8032 §7.1 TEST 1.
const SEED = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')!
const PUB = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')!

/** SSH wire string: uint32 big-endian length, then the bytes (written independently of keys.ts). */
function sshString(bytes: Uint8Array | string): Uint8Array {
  const b = typeof bytes === 'string' ? utf8(bytes) : bytes
  const out = new Uint8Array(4 + b.length)
  new DataView(out.buffer).setUint32(0, b.length)
  out.set(b, 4)
  return out
}

function opensshPem(blob: Uint8Array): string {
  const lines = toBase64(blob).match(/.{1,70}/g) ?? []
  const label = 'OPENSSH PRIVATE KEY'
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/** An openssh-key-v1 blob for one ed25519 key with the given header and private section. */
function opensshBlob(opts: {
  cipher: string
  kdf: string
  kdfOptions?: Uint8Array
  pub: Uint8Array
  section: Uint8Array
}): Uint8Array {
  const pubBlob = concatBytes(sshString('ssh-ed25519'), sshString(opts.pub))
  return concatBytes(
    utf8('openssh-key-v1\0'),
    sshString(opts.cipher),
    sshString(opts.kdf),
    sshString(opts.kdfOptions ?? new Uint8Array(0)),
    fromHex('00000001')!,
    sshString(pubBlob),
    sshString(opts.section)
  )
}

function privateSection(seed: Uint8Array, pub: Uint8Array, check2 = 'a1b2c3d4'): Uint8Array {
  const body = concatBytes(
    fromHex('a1b2c3d4')!,
    fromHex(check2)!,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(concatBytes(seed, pub)),
    sshString('test')
  )
  const pad: number[] = []
  for (let i = 1; (body.length + pad.length) % 8 !== 0; i++) pad.push(i)
  return concatBytes(body, Uint8Array.from(pad))
}

/** Asserts a failed parse whose message contains none of the given secrets. */
function expectRefusedWithoutLeak(result: ReturnType<typeof parseSigningKey>, secrets: string[]) {
  expect(result.ok).toBe(false)
  if (result.ok) return
  expect(result.error.length).toBeGreaterThan(0)
  for (const secret of secrets) expect(result.error).not.toContain(secret)
}

const hasSshKeygen = Bun.which('ssh-keygen') !== null

describe('parseSigningKey: accepted formats', () => {
  test('PKCS#8 PEM round trip with ed25519SeedToPkcs8Pem', () => {
    const pem = ed25519SeedToPkcs8Pem(SEED)
    expect(pem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true)
    expect(parseSigningKey(utf8(pem))).toEqual({
      ok: true,
      value: { algorithm: 'ed25519', seed: SEED },
    })
  })

  test('the PEM we write is what OpenSSL/node read as the same key, and vice versa', () => {
    const pem = ed25519SeedToPkcs8Pem(SEED)
    const jwk = createPrivateKey(pem).export({ format: 'jwk' })
    expect(jwk).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(SEED).toString('base64url'),
      x: Buffer.from(PUB).toString('base64url'),
    })

    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const nodePem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string
    const parsed = parseSigningKey(utf8(nodePem))
    expect(parsed.ok).toBe(true)
    if (!parsed.ok || parsed.value.algorithm !== 'ed25519') throw new Error('expected ed25519')
    const nodeRaw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12)
    expect(toHex(ed25519PublicKey(parsed.value.seed))).toBe(toHex(new Uint8Array(nodeRaw)))
  })

  test('32 raw bytes', () => {
    expect(parseSigningKey(SEED.slice())).toEqual({
      ok: true,
      value: { algorithm: 'ed25519', seed: SEED },
    })
  })

  test('64 hex characters, with a trailing newline, either case', () => {
    const lower = `${toHex(SEED)}\n`
    expect(parseSigningKey(utf8(lower))).toEqual({
      ok: true,
      value: { algorithm: 'ed25519', seed: SEED },
    })
    expect(parseSigningKey(utf8(toHex(SEED).toUpperCase()))).toEqual({
      ok: true,
      value: { algorithm: 'ed25519', seed: SEED },
    })
  })

  test('OpenSSH private key round trip with encodeOpenSshPrivateKey', () => {
    const text = encodeOpenSshPrivateKey(SEED, 'ci@example')
    expect(parseSigningKey(utf8(text))).toEqual({
      ok: true,
      value: { algorithm: 'ed25519', seed: SEED },
    })
  })

  test('an OpenSSH key built independently byte by byte parses to its seed', () => {
    const blob = opensshBlob({
      cipher: 'none',
      kdf: 'none',
      pub: PUB,
      section: privateSection(SEED, PUB),
    })
    expect(parseSigningKey(utf8(opensshPem(blob)))).toEqual({
      ok: true,
      value: { algorithm: 'ed25519', seed: SEED },
    })
  })

  if (hasSshKeygen) {
    test('a real key from ssh-keygen -t ed25519 parses, and ssh-keygen reads our encoding', () => {
      const dir = mkdtempSync(join(tmpdir(), 'nixfleet-keys-'))
      try {
        const path = join(dir, 'id_ed25519')
        const gen = Bun.spawnSync([
          'ssh-keygen',
          '-q',
          '-t',
          'ed25519',
          '-N',
          '',
          '-C',
          'host',
          '-f',
          path,
        ])
        expect(gen.exitCode).toBe(0)
        const parsed = parseSigningKey(new Uint8Array(readFileSync(path)))
        expect(parsed.ok).toBe(true)
        if (!parsed.ok || parsed.value.algorithm !== 'ed25519') throw new Error('expected ed25519')
        const pubLine = readFileSync(`${path}.pub`, 'utf8')
        expect(parseOpenSshPublicKey(pubLine)).toEqual({
          ok: true,
          value: ed25519PublicKey(parsed.value.seed),
        })
        expect(formatOpenSshPublicKey(ed25519PublicKey(parsed.value.seed), 'host')).toBe(
          pubLine.trim()
        )

        const ours = join(dir, 'ours')
        writeFileSync(ours, encodeOpenSshPrivateKey(SEED, 'c'), { mode: 0o600 })
        const derived = Bun.spawnSync(['ssh-keygen', '-y', '-f', ours])
        expect(derived.exitCode).toBe(0)
        expect(derived.stdout.toString().trim().split(' ').slice(0, 2).join(' ')).toBe(
          formatOpenSshPublicKey(PUB)
        )
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  }

  test('P-256 PKCS#8 from WebCrypto', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
    const der = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey))
    expect(parseSigningKey(utf8(toPem('PRIVATE KEY', der)))).toEqual({
      ok: true,
      value: { algorithm: 'ecdsa-p256', pkcs8: der },
    })
  })
})

describe('parseSigningKey: refused formats never leak key material', () => {
  test('garbage text', () => {
    const garbage = 'correct horse battery staple, definitely not a key'
    expectRefusedWithoutLeak(parseSigningKey(utf8(garbage)), [garbage, 'horse'])
  })

  test('31 raw bytes', () => {
    const short = SEED.subarray(0, 31)
    expectRefusedWithoutLeak(parseSigningKey(short.slice()), [
      toHex(short).slice(0, 16),
      toBase64(short).slice(0, 16),
    ])
  })

  test('63 hex characters', () => {
    const text = toHex(SEED).slice(0, 63)
    expectRefusedWithoutLeak(parseSigningKey(utf8(`${text}\n`)), [text.slice(0, 16)])
  })

  test('an encrypted OpenSSH key (cipher aes256-ctr, kdf bcrypt)', () => {
    const section = privateSection(SEED, PUB)
    const kdfOptions = concatBytes(sshString(new Uint8Array(16).fill(7)), fromHex('00000010')!)
    const blob = opensshBlob({ cipher: 'aes256-ctr', kdf: 'bcrypt', kdfOptions, pub: PUB, section })
    const text = opensshPem(blob)
    const r = parseSigningKey(utf8(text))
    expectRefusedWithoutLeak(r, [toBase64(blob).slice(40, 70), toHex(SEED).slice(0, 16)])
    expect(r).toEqual({ ok: false, error: 'OpenSSH private key: encrypted keys are not supported' })
  })

  test('an OpenSSH key whose public part does not match the seed', () => {
    const other = ed25519PublicKey(new Uint8Array(32).fill(9))
    const blob = opensshBlob({
      cipher: 'none',
      kdf: 'none',
      pub: PUB,
      section: privateSection(SEED, other),
    })
    expectRefusedWithoutLeak(parseSigningKey(utf8(opensshPem(blob))), [toHex(SEED).slice(0, 16)])
  })

  test('an OpenSSH key whose check words differ', () => {
    const blob = opensshBlob({
      cipher: 'none',
      kdf: 'none',
      pub: PUB,
      section: privateSection(SEED, PUB, '00000000'),
    })
    const r = parseSigningKey(utf8(opensshPem(blob)))
    expect(r).toEqual({ ok: false, error: 'OpenSSH private key: check words differ' })
  })

  test('an RSA PEM label', () => {
    const body = toBase64(new Uint8Array(64).fill(0x42))
    const text = `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----\n`
    expectRefusedWithoutLeak(parseSigningKey(utf8(text)), [body.slice(0, 20)])
  })

  test('a PKCS#8 PEM of another algorithm (X25519)', () => {
    const pem = generateKeyPairSync('x25519').privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    }) as string
    const body = pem.split('\n')[1]!
    expectRefusedWithoutLeak(parseSigningKey(utf8(pem)), [body.slice(0, 20)])
  })
})

describe('OpenSSH public lines', () => {
  test('formatOpenSshPublicKey matches an independently built line and round-trips', () => {
    const blob = concatBytes(sshString('ssh-ed25519'), sshString(PUB))
    const expected = `ssh-ed25519 ${Buffer.from(blob).toString('base64')} ci@example`
    expect(formatOpenSshPublicKey(PUB, 'ci@example')).toBe(expected)
    expect(formatOpenSshPublicKey(PUB)).toBe(expected.replace(' ci@example', ''))
    expect(parseOpenSshPublicKey(expected)).toEqual({ ok: true, value: PUB })
    expect(parseOpenSshPublicKey(`  ${expected}\n`)).toEqual({ ok: true, value: PUB })
  })

  test('malformed lines are refused', () => {
    const rsaBlob = toBase64(concatBytes(sshString('ssh-rsa'), sshString(PUB)))
    const shortBlob = toBase64(
      concatBytes(sshString('ssh-ed25519'), sshString(PUB.subarray(0, 31)))
    )
    expect(parseOpenSshPublicKey(`ssh-rsa ${rsaBlob}`).ok).toBe(false)
    expect(parseOpenSshPublicKey(`ssh-ed25519 ${shortBlob}`)).toEqual({
      ok: false,
      error: 'ssh-ed25519 key is not 32 bytes',
    })
    expect(parseOpenSshPublicKey(`ssh-ed25519 ${rsaBlob}`)).toEqual({
      ok: false,
      error: 'malformed ssh-ed25519 key blob',
    })
    expect(parseOpenSshPublicKey('ssh-ed25519').ok).toBe(false)
    expect(parseOpenSshPublicKey('ssh-ed25519 not*base64').ok).toBe(false)
  })
})

describe('parsePublicKey', () => {
  test('base64 of the expected length, with surrounding whitespace', () => {
    expect(parsePublicKey(`${toBase64(PUB)}\n`)).toEqual({ ok: true, value: PUB })
    const p256 = new Uint8Array(64).fill(3)
    expect(parsePublicKey(toBase64(p256), 64)).toEqual({ ok: true, value: p256 })
  })

  test('an OpenSSH ssh-ed25519 line', () => {
    expect(parsePublicKey(formatOpenSshPublicKey(PUB, 'x'))).toEqual({ ok: true, value: PUB })
  })

  test('length checks', () => {
    expect(parsePublicKey(toBase64(PUB.subarray(0, 31)))).toEqual({
      ok: false,
      error: 'public key is 31 bytes, expected 32',
    })
    expect(parsePublicKey(toBase64(new Uint8Array(33)))).toEqual({
      ok: false,
      error: 'public key is 33 bytes, expected 32',
    })
    expect(parsePublicKey(toBase64(PUB), 64)).toEqual({
      ok: false,
      error: 'public key is 32 bytes, expected 64',
    })
    expect(parsePublicKey(toBase64(new Uint8Array(65)), 64)).toEqual({
      ok: false,
      error: 'public key is 65 bytes, expected 64',
    })
  })

  test('text that is not standard padded base64', () => {
    const urlSafe = Buffer.from(new Uint8Array(32).fill(0xfb)).toString('base64url')
    for (const bad of ['not base64!', urlSafe, toBase64(PUB).slice(0, -1)]) {
      expect(parsePublicKey(bad)).toEqual({ ok: false, error: 'public key is not valid base64' })
    }
  })

  test('the SPKI DER of an ed25519 key is not mistaken for a raw key', () => {
    const spki = new Uint8Array(
      createPublicKey(createPrivateKey(ed25519SeedToPkcs8Pem(SEED))).export({
        format: 'der',
        type: 'spki',
      })
    )
    expect(fromBase64(toBase64(spki))!.length).toBe(44)
    expect(parsePublicKey(toBase64(spki))).toEqual({
      ok: false,
      error: 'public key is 44 bytes, expected 32',
    })
  })
})
