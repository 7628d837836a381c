/**
 * Tests of release assembly: stamping the operator's fleet.resolved (closures, expired pins,
 * meta, unknown fields kept), the list of artifacts and their exact canonical bytes, the
 * bootstrap-nonce pruning and revocation stamping, and the input errors.
 */
import { describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import type { JsonValue } from '../crypto/canonical-json.ts'
import fleetFixture from '../../tests/fixtures/fleet.json'
import { ReleaseInputError, assembleRelease, stampFleet } from './assemble.ts'

const SIGNED_AT = '2026-05-01T12:00:00Z'
const CI = '0123456789abcdef0123456789abcdef01234567'
const STAMP = { signedAt: SIGNED_AT, ciCommit: CI, signatureAlgorithm: 'ed25519' }
const META = { schemaVersion: 1, signedAt: SIGNED_AT, ciCommit: CI, signatureAlgorithm: 'ed25519' }
const CLOSURES = {
  'web-01': '0c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-web-01-25.05',
  'web-02': '1c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-web-02-25.05',
  'db-01': '2c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-db-01-25.05',
  'dev-01': '3c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-dev-01-25.05',
}
const EMPTY_SELECTOR = { tags: [], tagsAny: [], hosts: [], channel: null, all: false }
const WEB_BUDGET = {
  selector: { ...EMPTY_SELECTOR, tags: ['web'] },
  hosts: ['web-01', 'web-02'],
  maxInFlight: 1,
  maxInFlightPct: null,
}

const fixture = (): Record<string, any> => structuredClone(fleetFixture) as Record<string, any>

/** RFC 8785 for ASCII-only documents with integer numbers: sorted keys, no whitespace. */
function jcsAscii(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(jcsAscii).join(',')}]`
  if (x !== null && typeof x === 'object') {
    const obj = x as Record<string, unknown>
    const members = Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${jcsAscii(obj[k])}`)
    return `{${members.join(',')}}`
  }
  return JSON.stringify(x)
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b)
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('stampFleet', () => {
  test('injects closures, sets null where none, stamps meta and keeps every unknown field', () => {
    const raw = fixture()
    raw.auditTrail = { ticket: 'CHG-1' }
    raw.meta.generator = 'mkFleet 0.2'
    raw.hosts['dev-01'].futureField = { kept: true }
    const closures = { 'web-01': CLOSURES['web-01'] }
    const out = stampFleet(raw as JsonValue, closures, STAMP)
    const expected = fixture()
    expected.auditTrail = { ticket: 'CHG-1' }
    expected.hosts['dev-01'].futureField = { kept: true }
    expected.hosts['web-01'].closureHash = CLOSURES['web-01']
    expected.meta = { ...META, generator: 'mkFleet 0.2' }
    expect(out).toEqual(expected)
    expect((out.hosts as any)['dev-01'].futureField).toEqual({ kept: true })
    // The input is left untouched.
    expect(raw.hosts['web-01'].closureHash).toBeNull()
    expect(raw.meta.signedAt).toBeNull()
  })

  test('a host without closureHash gets null; an existing closureHash is kept unless replaced', () => {
    const raw = fixture()
    delete raw.hosts['db-01'].closureHash
    raw.hosts['web-02'].closureHash = 'previous-closure'
    raw.hosts['web-01'].closureHash = 'previous-closure'
    const out = stampFleet(raw as JsonValue, { 'web-01': CLOSURES['web-01'] }, STAMP) as any
    expect([
      out.hosts['db-01'].closureHash,
      out.hosts['web-02'].closureHash,
      out.hosts['web-01'].closureHash,
    ]).toEqual([null, 'previous-closure', CLOSURES['web-01']])
  })

  test('drops pins that expired before signedAt, and only those', () => {
    const raw = fixture()
    const pin = (expiresAt?: string) => ({
      commit: 'abc123',
      reason: 'freeze',
      ...(expiresAt ? { expiresAt } : {}),
    })
    raw.hosts['web-01'].pin = pin('2026-05-01T11:59:59Z')
    raw.hosts['web-02'].pin = pin(SIGNED_AT)
    raw.hosts['db-01'].pin = pin('2026-06-01T00:00:00Z')
    raw.hosts['dev-01'].pin = pin()
    const out = stampFleet(raw as JsonValue, {}, STAMP) as any
    expect(
      Object.fromEntries(Object.entries(out.hosts).map(([n, h]: [string, any]) => [n, h.pin]))
    ).toEqual({
      'web-01': undefined,
      'web-02': pin(SIGNED_AT),
      'db-01': pin('2026-06-01T00:00:00Z'),
      'dev-01': pin(),
    })
    expect('pin' in out.hosts['web-01']).toBe(false)
  })

  test('a pin with expiresAt: null (mkFleet, no expiry) is kept as written and never expires', () => {
    const raw = fixture()
    const forever = { commit: 'abc123', reason: 'freeze', expiresAt: null }
    raw.hosts['web-01'].pin = forever
    const out = assembleRelease({ fleet: raw as JsonValue, closures: CLOSURES, stamp: STAMP })
    expect(JSON.parse(text(out.files[0]!.canonical)).hosts['web-01'].pin).toEqual(forever)
    expect(out.fleet.hosts['web-01' as never]?.pin).toEqual({ commit: 'abc123', reason: 'freeze' })
  })

  test('refuses closures for hosts the fleet does not declare, Object.prototype names included', () => {
    for (const host of ['web-03', 'toString', 'constructor']) {
      expect(() =>
        stampFleet(fixture() as JsonValue, { [host]: CLOSURES['web-01'] }, STAMP)
      ).toThrow(new ReleaseInputError(`closures: host ${host} is not in fleet.resolved`))
    }
  })

  test('a host named like an Object.prototype member gets no phantom closure', () => {
    const raw = fixture()
    raw.hosts.constructor = { ...raw.hosts['dev-01'] }
    const out = stampFleet(raw as JsonValue, {}, STAMP) as any
    expect(Object.hasOwn(out.hosts, 'constructor') && out.hosts.constructor.closureHash).toBeNull()
  })

  test('refuses a fleet that is not an object, or whose hosts are not objects', () => {
    expect(() => stampFleet([] as JsonValue, {}, STAMP)).toThrow(ReleaseInputError)
    expect(() => stampFleet({ hosts: [] }, {}, STAMP)).toThrow(
      'fleet.resolved: hosts: expected an object'
    )
    expect(() => stampFleet({ hosts: { a: 1 } }, {}, STAMP)).toThrow(
      'fleet.resolved: hosts.a: expected an object'
    )
  })
})

describe('assembleRelease', () => {
  const full = () =>
    assembleRelease({
      fleet: fixture() as JsonValue,
      closures: CLOSURES,
      stamp: STAMP,
      revocations: {
        revocations: [
          {
            hostname: 'web-02',
            notBefore: '2026-04-30T00:00:00Z',
            reason: 'lost',
            revokedBy: 'ops',
          },
        ],
      },
      bootstrapNonces: {
        bootstrapNonces: [
          { nonce: 'n-expired', hostname: 'web-01', expiresAt: '2026-05-01T11:59:59Z' },
          { nonce: 'n-edge', hostname: 'web-01', expiresAt: SIGNED_AT },
          {
            nonce: 'n-live',
            hostname: 'db-01',
            expiresAt: '2026-05-02T00:00:00Z',
            mintedAt: null,
            mintedBy: 'alice',
          },
        ],
      },
    })

  test('the artifact list, rollout ids and fleet hash', () => {
    const r = full()
    expect(r.files.map((f) => f.path)).toEqual([
      'fleet.resolved.json',
      `rollouts/edge@${CI}.json`,
      `rollouts/stable@${CI}.json`,
      'revocations.json',
      'bootstrap-nonces.json',
    ])
    expect(r.rolloutIds).toEqual([`edge@${CI}`, `stable@${CI}`])
    expect(r.fleetHash).toBe(sha256(r.files[0]!.canonical))
  })

  test('the fleet bytes are the canonical form of the stamped fleet', () => {
    const expected = fixture()
    for (const [h, c] of Object.entries(CLOSURES)) expected.hosts[h].closureHash = c
    expected.meta = META
    const bytes = full().files[0]!.canonical
    expect(JSON.parse(text(bytes))).toEqual(expected)
    expect(text(bytes)).toBe(jcsAscii(expected))
  })

  test('each rollout manifest, byte for byte', () => {
    const r = full()
    const stable = {
      schemaVersion: 1,
      displayName: 'stable@01234567',
      channel: 'stable',
      channelRef: CI,
      fleetResolvedHash: r.fleetHash,
      hostSet: [
        { hostname: 'db-01', waveIndex: 1, targetClosure: CLOSURES['db-01'] },
        { hostname: 'web-01', waveIndex: 0, targetClosure: CLOSURES['web-01'] },
        { hostname: 'web-02', waveIndex: 1, targetClosure: CLOSURES['web-02'] },
      ],
      healthGate: { systemdFailedUnits: { max: 0 } },
      // The fixture's channels carry no compliance posture.
      complianceFrameworks: [],
      disruptionBudgets: [WEB_BUDGET],
      meta: META,
    }
    const edge = {
      ...stable,
      displayName: 'edge@01234567',
      channel: 'edge',
      hostSet: [{ hostname: 'dev-01', waveIndex: 0, targetClosure: CLOSURES['dev-01'] }],
      healthGate: {},
    }
    expect(text(r.files[1]!.canonical)).toBe(jcsAscii(edge))
    expect(text(r.files[2]!.canonical)).toBe(jcsAscii(stable))
  })

  test("a manifest carries its channel's compliance frameworks, in the fleet's order", () => {
    const raw = fixture()
    raw.channels.stable.compliance = { frameworks: ['nis2', 'anssi-bp028'], mode: 'enforce' }
    const r = assembleRelease({ fleet: raw as JsonValue, closures: CLOSURES, stamp: STAMP })
    const manifest = (i: number) => JSON.parse(text(r.files[i]!.canonical))
    expect(manifest(2).channel).toBe('stable')
    expect(manifest(2).complianceFrameworks).toEqual(['nis2', 'anssi-bp028'])
    expect(manifest(1).complianceFrameworks).toEqual([])
  })

  test('revocations are stamped with schemaVersion and meta', () => {
    const bytes = full().files[3]!.canonical
    expect(text(bytes)).toBe(
      jcsAscii({
        schemaVersion: 1,
        revocations: [
          {
            hostname: 'web-02',
            notBefore: '2026-04-30T00:00:00Z',
            reason: 'lost',
            revokedBy: 'ops',
          },
        ],
        meta: META,
      })
    )
  })

  test('bootstrap nonces that expired before signedAt are dropped; one expiring at signedAt is kept', () => {
    const bytes = full().files[4]!.canonical
    expect(JSON.parse(text(bytes))).toEqual({
      schemaVersion: 1,
      bootstrapNonces: [
        { nonce: 'n-edge', hostname: 'web-01', expiresAt: SIGNED_AT },
        {
          nonce: 'n-live',
          hostname: 'db-01',
          expiresAt: '2026-05-02T00:00:00Z',
          mintedAt: null,
          mintedBy: 'alice',
        },
      ],
      meta: META,
    })
  })

  test('bare arrays are accepted for revocations and nonces, and an empty list is valid', () => {
    const r = assembleRelease({
      fleet: fixture() as JsonValue,
      closures: {},
      stamp: STAMP,
      revocations: [],
      bootstrapNonces: [],
    })
    expect(r.files.map((f) => [f.path, JSON.parse(text(f.canonical)).meta])).toEqual([
      ['fleet.resolved.json', META],
      ['revocations.json', META],
      ['bootstrap-nonces.json', META],
    ])
    expect(JSON.parse(text(r.files[1]!.canonical)).revocations).toEqual([])
  })

  test('a channel with no closure gets no manifest', () => {
    const r = assembleRelease({
      fleet: fixture() as JsonValue,
      closures: { 'db-01': CLOSURES['db-01'] },
      stamp: STAMP,
    })
    expect(r.files.map((f) => f.path)).toEqual([
      'fleet.resolved.json',
      `rollouts/stable@${CI}.json`,
    ])
    expect(JSON.parse(text(r.files[1]!.canonical)).hostSet).toEqual([
      { hostname: 'db-01', waveIndex: 1, targetClosure: CLOSURES['db-01'] },
    ])
  })

  test('input errors name the artifact and the field', () => {
    const badChannel = fixture()
    badChannel.hosts['web-01'].channel = 42
    expect(() => assembleRelease({ fleet: badChannel, closures: {}, stamp: STAMP })).toThrow(
      new ReleaseInputError('fleet.resolved: hosts.web-01.channel: expected string')
    )
    const undeclared = fixture()
    undeclared.hosts['web-01'].channel = 'constructor'
    expect(() => assembleRelease({ fleet: undeclared, closures: {}, stamp: STAMP })).toThrow(
      new ReleaseInputError(
        'fleet.resolved: hosts.web-01.channel: channel constructor is not declared'
      )
    )
    const v2 = fixture()
    v2.schemaVersion = 2
    expect(() => assembleRelease({ fleet: v2, closures: {}, stamp: STAMP })).toThrow(
      'fleet.resolved: schemaVersion must be 1'
    )
    expect(() =>
      assembleRelease({
        fleet: fixture() as JsonValue,
        closures: {},
        stamp: STAMP,
        revocations: { list: [] },
      })
    ).toThrow('revocations: expected {"revocations": [...]} or an array')
    expect(() =>
      assembleRelease({
        fleet: fixture() as JsonValue,
        closures: {},
        stamp: STAMP,
        bootstrapNonces: [{ nonce: 'x' }],
      })
    ).toThrow(ReleaseInputError)
  })
})
