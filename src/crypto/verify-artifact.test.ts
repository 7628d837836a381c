/**
 * Tests of the shared verification pipeline (protocol §3.7) over a real release: the fixture
 * fleet assembled by `assembleRelease` and signed with ed25519 (and ECDSA P-256). Each tagged
 * error is provoked on its own, then the order in which the checks run is pinned down.
 * Over 400 lines: a group of cases per check, and the order tests need them all in one file.
 */
import { describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import type * as v from 'valibot'
import { fromHex, toBase64, utf8 } from '../lib/bytes.ts'
import { BootstrapNoncesSchema } from '../proto/bootstrap.ts'
import { FleetResolvedSchema } from '../proto/fleet.ts'
import { RolloutManifestSchema } from '../proto/manifest.ts'
import { RevocationsSchema } from '../proto/revocations.ts'
import type { KeySlot, TrustKey } from '../proto/trust.ts'
import { assembleRelease } from '../release/assemble.ts'
import fleetFixture from '../../tests/fixtures/fleet.json'
import closuresFixture from '../../tests/fixtures/closures.json'
import { type JsonValue, canonicalizeValue } from './canonical-json.ts'
import { ed25519PublicKey, ed25519Sign } from './ed25519.ts'
import { type VerifyErrorKind, type VerifyResult, verifyArtifact } from './verify-artifact.ts'

const SIGNED_AT = '2026-05-01T12:00:00Z'
const T = Date.UTC(2026, 4, 1, 12, 0, 0)
const SEC = 1000
const DAY = 86_400 * SEC
const CI_COMMIT = '0123456789abcdef0123456789abcdef01234567'
const WINDOW = 3600

const SEED_A = Uint8Array.from({ length: 32 }, (_, i) => i + 1)
const SEED_B = Uint8Array.from({ length: 32 }, (_, i) => 200 - i)

const edKey = (seed: Uint8Array): TrustKey => ({
  algorithm: 'ed25519',
  public: toBase64(ed25519PublicKey(seed)),
})
const KEY_A = edKey(SEED_A)
const KEY_B = edKey(SEED_B)

function slot(partial: Partial<KeySlot>): KeySlot {
  return {
    current: null,
    previous: null,
    rejectBefore: null,
    successor: null,
    retireAt: null,
    ...partial,
  }
}

const SLOT_A = slot({ current: KEY_A })

const closures = Object.fromEntries(
  Object.entries(closuresFixture).map(([host, path]) => [host, path.split('/').pop()!])
)
const release = assembleRelease({
  fleet: fleetFixture as JsonValue,
  closures,
  stamp: { signedAt: SIGNED_AT, ciCommit: CI_COMMIT, signatureAlgorithm: 'ed25519' },
  revocations: {
    revocations: [
      { hostname: 'web-02', notBefore: '2026-04-30T00:00:00Z', reason: 'lost', revokedBy: 'ops' },
    ],
  },
  bootstrapNonces: {
    bootstrapNonces: [
      { nonce: 'ab'.repeat(16), hostname: 'web-01', expiresAt: '2026-05-02T00:00:00Z' },
    ],
  },
})
const FLEET_BYTES = release.files[0]!.canonical
const FLEET_SIG = ed25519Sign(FLEET_BYTES, SEED_A)
const FLEET_OBJECT = JSON.parse(new TextDecoder().decode(FLEET_BYTES)) as Record<string, JsonValue>

type Opts = {
  bytes?: Uint8Array
  signature?: Uint8Array
  slot?: KeySlot | null | undefined
  now?: number
  window?: number
  schema?: v.GenericSchema<unknown, unknown>
}

function verify(opts: Opts = {}): Promise<VerifyResult<unknown>> {
  return verifyArtifact({
    bytes: opts.bytes ?? FLEET_BYTES,
    signature: opts.signature ?? FLEET_SIG,
    schema: opts.schema ?? FleetResolvedSchema,
    slot: 'slot' in opts ? opts.slot : SLOT_A,
    now: opts.now ?? T,
    freshnessWindowSecs: opts.window ?? WINDOW,
  })
}

async function errorKind(opts: Opts): Promise<VerifyErrorKind | 'ok'> {
  const r = await verify(opts)
  return r.ok ? 'ok' : r.error.kind
}

/** Canonical bytes of a JSON value and their ed25519 signature by `seed`. */
function signed(value: JsonValue, seed = SEED_A): { bytes: Uint8Array; signature: Uint8Array } {
  const bytes = utf8(canonicalizeValue(value))
  return { bytes, signature: ed25519Sign(bytes, seed) }
}

/** The fleet object with a change applied to a deep copy. */
function fleetWith(change: (f: Record<string, any>) => void): Record<string, JsonValue> {
  const copy = structuredClone(FLEET_OBJECT) as Record<string, any>
  change(copy)
  return copy
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice()
  out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7))
  return out
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('the ok path', () => {
  test('returns the typed fleet, sha256 of the canonical bytes, signedAt and key position', async () => {
    const r = await verify()
    expect(r).toEqual({
      ok: true,
      verified: {
        value: release.fleet,
        canonical: FLEET_BYTES,
        sha256: sha256(FLEET_BYTES),
        signedAt: SIGNED_AT,
        signedAtMs: T,
        ciCommit: CI_COMMIT,
        key: 'current',
        algorithm: 'ed25519',
      },
    })
  })

  test('every other artifact of the release verifies with its own schema', async () => {
    const schemaOf = (path: string): v.GenericSchema<unknown, unknown> =>
      path.startsWith('rollouts/')
        ? RolloutManifestSchema
        : path === 'revocations.json'
          ? RevocationsSchema
          : BootstrapNoncesSchema
    const paths: string[] = []
    for (const file of release.files.slice(1)) {
      const r = await verify({
        bytes: file.canonical,
        signature: ed25519Sign(file.canonical, SEED_A),
        schema: schemaOf(file.path),
      })
      expect(r.ok && r.verified.sha256).toBe(sha256(file.canonical))
      paths.push(file.path)
    }
    expect(paths).toEqual([
      `rollouts/edge@${CI_COMMIT}.json`,
      `rollouts/stable@${CI_COMMIT}.json`,
      'revocations.json',
      'bootstrap-nonces.json',
    ])
  })
})

describe('NoTrustRoots', () => {
  test('a null or missing slot', async () => {
    expect(await errorKind({ slot: null })).toBe('NoTrustRoots')
    expect(await errorKind({ slot: undefined })).toBe('NoTrustRoots')
    expect(await errorKind({ slot: slot({}) })).toBe('NoTrustRoots')
  })

  test('a slot whose only key is a successor past (or at) retireAt', async () => {
    const s = slot({ successor: KEY_A, retireAt: '2026-05-01T11:00:00Z' })
    expect(await errorKind({ slot: s })).toBe('NoTrustRoots')
    expect(await errorKind({ slot: slot({ successor: KEY_A, retireAt: SIGNED_AT }) })).toBe(
      'NoTrustRoots'
    )
    // Control: the same successor before retireAt verifies.
    expect(
      await errorKind({ slot: slot({ successor: KEY_A, retireAt: '2026-05-01T13:00:00Z' }) })
    ).toBe('ok')
  })
})

describe('Parse', () => {
  test('invalid JSON, invalid UTF-8 and a duplicate key are Parse errors, before the signature check', async () => {
    const bad = [
      utf8('{"schemaVersion":1,'),
      Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d),
      utf8('{"a":1,"a":2}'),
    ]
    for (const bytes of bad) {
      // Signed over the raw bytes, or with an arbitrary signature: Parse either way.
      expect(await errorKind({ bytes, signature: ed25519Sign(bytes, SEED_A) })).toBe('Parse')
      expect(await errorKind({ bytes, signature: new Uint8Array(64) })).toBe('Parse')
    }
    const r = await verify({ bytes: utf8('{"a":1,"a":2}') })
    expect(r.ok ? '' : r.error.message).toContain('duplicate key')
  })

  test('a validly signed artifact that is not an object, or fails the schema, is a Parse error', async () => {
    expect(await errorKind(signed([1, 2]))).toBe('Parse')
    expect(await errorKind(signed(fleetWith((f) => delete f.hosts)))).toBe('Parse')
    expect(await errorKind(signed(fleetWith((f) => (f.hosts['web-01'].channel = 42))))).toBe(
      'Parse'
    )
    expect(await errorKind(signed(fleetWith((f) => (f.meta.signedAt = 'yesterday'))))).toBe('Parse')
  })
})

describe('BadSignature', () => {
  test('a 1-bit flip of the artifact at several positions', async () => {
    const text = new TextDecoder().decode(FLEET_BYTES)
    // Flipping bit 0 of these characters keeps the JSON valid, so only the signature can object.
    const positions = [
      text.indexOf('"channelEdges"') + 1, // first key: c → b
      text.indexOf('x86_64-linux'), // x → y
      text.indexOf(CI_COMMIT), // 0 → 1
      text.indexOf('1440') + 1, // 1440 → 1540
      text.lastIndexOf('soakMinutes'), // last key of the document: s → r
    ]
    expect(positions.every((p) => p > 0)).toBe(true)
    for (const p of positions) {
      const bytes = flipBit(FLEET_BYTES, p * 8)
      expect(() => JSON.parse(new TextDecoder().decode(bytes))).not.toThrow()
      expect(await errorKind({ bytes })).toBe('BadSignature')
    }
  })

  test('every 1-bit flip of the signature', async () => {
    const kinds = new Set<string>()
    for (let bit = 0; bit < 512; bit++)
      kinds.add(await errorKind({ signature: flipBit(FLEET_SIG, bit) }))
    expect([...kinds]).toEqual(['BadSignature'])
  })

  test('a signature by another key, and signatures of the wrong length', async () => {
    expect(await errorKind({ signature: ed25519Sign(FLEET_BYTES, SEED_B) })).toBe('BadSignature')
    expect(await errorKind({ signature: FLEET_SIG.subarray(0, 63) })).toBe('BadSignature')
    expect(await errorKind({ signature: new Uint8Array(0) })).toBe('BadSignature')
  })
})

describe('trust key problems', () => {
  test('UnsupportedAlgorithm when the only key is rsa', async () => {
    const rsa = { algorithm: 'rsa', public: KEY_A.public }
    expect(await errorKind({ slot: slot({ current: rsa }) })).toBe('UnsupportedAlgorithm')
    // An unsupported key is skipped, not fatal, when another key can verify.
    const r = await verify({ slot: slot({ current: rsa, previous: KEY_A }) })
    expect(r.ok && r.verified.key).toBe('previous')
  })

  test('BadPubkeyEncoding for bad base64, a 31-byte key and a 32-byte P-256 key', async () => {
    const keys: TrustKey[] = [
      { algorithm: 'ed25519', public: 'not base64!' },
      { algorithm: 'ed25519', public: toBase64(ed25519PublicKey(SEED_A).subarray(0, 31)) },
      { algorithm: 'ecdsa-p256', public: KEY_A.public },
    ]
    for (const key of keys)
      expect(await errorKind({ slot: slot({ current: key }) })).toBe('BadPubkeyEncoding')
  })
})

describe('content checks after the signature', () => {
  test('SchemaVersionUnsupported for a validly signed schemaVersion 2', async () => {
    expect(await errorKind(signed(fleetWith((f) => (f.schemaVersion = 2))))).toBe(
      'SchemaVersionUnsupported'
    )
  })

  test('NotSigned for a validly signed artifact with meta.signedAt null', async () => {
    expect(await errorKind(signed(fleetWith((f) => (f.meta.signedAt = null))))).toBe('NotSigned')
  })

  test('RejectedBeforeTimestamp: rejectBefore equal to signedAt passes, one second later refuses', async () => {
    expect(await errorKind({ slot: slot({ current: KEY_A, rejectBefore: SIGNED_AT }) })).toBe('ok')
    expect(
      await errorKind({ slot: slot({ current: KEY_A, rejectBefore: '2026-05-01T12:00:01Z' }) })
    ).toBe('RejectedBeforeTimestamp')
    // The kill-switch applies to every key of the slot, previous included.
    const previous = slot({ current: KEY_B, previous: KEY_A, rejectBefore: '2026-05-01T12:00:01Z' })
    expect(await errorKind({ slot: previous })).toBe('RejectedBeforeTimestamp')
  })

  test('Stale: exactly window + 60 s passes, window + 61 s (and window + 60 s + 1 ms) refuses', async () => {
    expect(await errorKind({ now: T + (WINDOW + 60) * SEC })).toBe('ok')
    expect(await errorKind({ now: T + (WINDOW + 61) * SEC })).toBe('Stale')
    expect(await errorKind({ now: T + (WINDOW + 60) * SEC + 1 })).toBe('Stale')
    expect(await errorKind({ now: T + 31 * DAY, window: 2_592_000 })).toBe('Stale')
  })

  test('FutureDated: up to 60 s ahead passes, 61 s or 2 days ahead refuses', async () => {
    const at = async (signedAheadMs: number) => errorKind({ now: T - signedAheadMs })
    expect(await at(2 * DAY)).toBe('FutureDated')
    expect(await at(61 * SEC)).toBe('FutureDated')
    expect(await at(60 * SEC)).toBe('ok')
    expect(await at(30 * SEC)).toBe('ok')
    expect(await at(0)).toBe('ok')
    expect(await at(-30 * SEC)).toBe('ok')
  })
})

describe('key rotation', () => {
  test('an artifact signed by the previous key verifies with position previous', async () => {
    const r = await verify({ slot: slot({ current: KEY_B, previous: KEY_A }) })
    expect(r.ok && { key: r.verified.key, algorithm: r.verified.algorithm }).toEqual({
      key: 'previous',
      algorithm: 'ed25519',
    })
  })

  test('the successor verifies only while now < retireAt', async () => {
    const retireAt = '2026-05-01T12:30:00Z'
    const s = slot({ current: KEY_B, successor: KEY_A, retireAt })
    const before = await verify({ slot: s, now: Date.UTC(2026, 4, 1, 12, 29, 59, 999) })
    expect(before.ok && before.verified.key).toBe('successor')
    expect(await errorKind({ slot: s, now: Date.UTC(2026, 4, 1, 12, 30) })).toBe('BadSignature')
    // A successor without retireAt is never active.
    expect(await errorKind({ slot: slot({ current: KEY_B, successor: KEY_A }) })).toBe(
      'BadSignature'
    )
  })
})

describe('the order of the checks', () => {
  test('no trust roots is reported before a parse error', async () => {
    expect(await errorKind({ slot: null, bytes: utf8('not json') })).toBe('NoTrustRoots')
  })

  test('badly signed and stale reports BadSignature', async () => {
    expect(await errorKind({ now: T + 10 * DAY })).toBe('Stale')
    expect(
      await errorKind({ now: T + 10 * DAY, signature: ed25519Sign(FLEET_BYTES, SEED_B) })
    ).toBe('BadSignature')
  })

  test('badly signed schemaVersion 2 reports BadSignature; schemaVersion 2 with null signedAt reports the version', async () => {
    const v2 = signed(
      fleetWith((f) => (f.schemaVersion = 2)),
      SEED_B
    )
    expect(await errorKind(v2)).toBe('BadSignature')
    const v2unsigned = signed(fleetWith((f) => ((f.schemaVersion = 2), (f.meta.signedAt = null))))
    expect(await errorKind(v2unsigned)).toBe('SchemaVersionUnsupported')
  })

  test('rejectBefore is reported before Stale and before FutureDated', async () => {
    const s = slot({ current: KEY_A, rejectBefore: '2026-05-02T00:00:00Z' })
    expect(await errorKind({ slot: s, now: T + 10 * DAY })).toBe('RejectedBeforeTimestamp')
    expect(await errorKind({ slot: s, now: T - 2 * DAY })).toBe('RejectedBeforeTimestamp')
  })
})

describe('what the signature covers', () => {
  test('an unknown extra field is covered: it verifies when signed, and changing it breaks the signature', async () => {
    const extended = signed(fleetWith((f) => (f.auditTrail = { ticket: 'CHG-1' })))
    const r = await verify(extended)
    expect(r.ok && r.verified.sha256).toBe(sha256(extended.bytes))
    expect(new TextDecoder().decode(extended.bytes)).toContain('"auditTrail":{"ticket":"CHG-1"}')
    const tampered = utf8(new TextDecoder().decode(extended.bytes).replace('CHG-1', 'CHG-2'))
    expect(tampered.length).toBe(extended.bytes.length)
    expect(await errorKind({ bytes: tampered, signature: extended.signature })).toBe('BadSignature')
  })

  test('non-canonical input (pretty-printed, keys reordered) of a canonically signed payload verifies', async () => {
    const reorder = (x: unknown): unknown => {
      if (Array.isArray(x)) return x.map(reorder)
      if (x === null || typeof x !== 'object') return x
      const keys = Object.keys(x).sort().reverse()
      return Object.fromEntries(keys.map((k) => [k, reorder((x as Record<string, unknown>)[k])]))
    }
    const pretty = utf8(JSON.stringify(reorder(FLEET_OBJECT), null, 2))
    expect(pretty.length).toBeGreaterThan(FLEET_BYTES.length)
    const r = await verify({ bytes: pretty })
    expect(r.ok && { canonical: r.verified.canonical, sha256: r.verified.sha256 }).toEqual({
      canonical: FLEET_BYTES,
      sha256: sha256(FLEET_BYTES),
    })
  })
})

describe('ECDSA P-256 trust keys', () => {
  test('a WebCrypto signature over the canonical bytes verifies end to end, high-S too', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
    const key: TrustKey = { algorithm: 'ecdsa-p256', public: toBase64(raw.subarray(1)) }
    const sig = new Uint8Array(
      await crypto.subtle.sign(
        { name: 'ECDSA', hash: 'SHA-256' },
        pair.privateKey,
        FLEET_BYTES as Uint8Array<ArrayBuffer>
      )
    )
    const r = await verify({ signature: sig, slot: slot({ current: key }) })
    expect(
      r.ok && { key: r.verified.key, algorithm: r.verified.algorithm, sha256: r.verified.sha256 }
    ).toEqual({
      key: 'current',
      algorithm: 'ecdsa-p256',
      sha256: sha256(FLEET_BYTES),
    })

    const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')
    const s = BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`)
    const other = sig.slice()
    other.set(fromHex((n - s).toString(16).padStart(64, '0'))!, 32)
    expect(await errorKind({ signature: other, slot: slot({ current: key }) })).toBe('ok')

    // Mixed slot: an ed25519 current key and the P-256 key as previous.
    const mixed = await verify({ signature: sig, slot: slot({ current: KEY_A, previous: key }) })
    expect(mixed.ok && mixed.verified.key).toBe('previous')
    expect(await errorKind({ signature: FLEET_SIG, slot: slot({ current: key }) })).toBe(
      'BadSignature'
    )
  })
})
