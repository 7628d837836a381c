/**
 * Tests of the rollout-manifest projection (protocol §3.2), the all-at-once normalisation
 * (§3.1) and the consumer cross-checks (discriminator and fleetResolvedHash anchor).
 * Over 400 lines: one fleet fixture serves every case, so the cases stay beside it.
 */
import { describe, expect, test } from 'bun:test'
import * as v from 'valibot'
import { type FleetResolved, FleetResolvedSchema } from '../../proto/fleet.ts'
import type { ChannelName } from '../../proto/ids.ts'
import { RolloutManifestSchema } from '../../proto/manifest.ts'
import fleetFixture from '../../../tests/fixtures/fleet.json'
import {
  checkManifestBinding,
  normalizeRolloutPolicies,
  projectRolloutManifest,
  rolloutIdFor,
} from './projection.ts'

const HASH = 'a'.repeat(64)
const OTHER_HASH = 'b'.repeat(64)
const CI = '0123456789abcdef0123456789abcdef01234567'
const SIGNED_AT = '2026-05-01T12:00:00Z'
const C = {
  'web-01': '0c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-web-01-25.05',
  'web-02': '1c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-web-02-25.05',
  'db-01': '2c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-db-01-25.05',
  'dev-01': '3c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-dev-01-25.05',
} as const

const ch = (name: string): ChannelName => name as ChannelName
const EMPTY_SELECTOR = { tags: [], tagsAny: [], hosts: [], channel: null, all: false }

/** The fixture fleet with `change` applied to a JSON copy, parsed as a verified fleet would be. */
function fixtureFleet(change: (f: Record<string, any>) => void = () => {}): FleetResolved {
  const f = structuredClone(fleetFixture) as Record<string, any>
  for (const [host, closure] of Object.entries(C)) f.hosts[host].closureHash = closure
  f.meta = { schemaVersion: 1, signedAt: SIGNED_AT, ciCommit: CI, signatureAlgorithm: 'ed25519' }
  change(f)
  return v.parse(FleetResolvedSchema, f)
}

/** A small fleet with one channel, the given hosts and waves. */
function smallFleet(opts: {
  hosts: Record<string, { channel?: string; tags?: string[]; closureHash?: string | null }>
  waves?: Record<string, { hosts: string[]; soakMinutes: number }[]>
  channels?: string[]
  budgets?: unknown[]
  ciCommit?: string | null
}): FleetResolved {
  const channels = opts.channels ?? ['stable']
  return v.parse(FleetResolvedSchema, {
    schemaVersion: 1,
    hosts: Object.fromEntries(
      Object.entries(opts.hosts).map(([name, h]) => [
        name,
        {
          platform: 'x86_64-linux',
          tags: h.tags ?? [],
          channel: h.channel ?? 'stable',
          closureHash: h.closureHash === undefined ? `${name}-closure` : h.closureHash,
          pubkey: null,
        },
      ])
    ),
    channels: Object.fromEntries(
      channels.map((c) => [
        c,
        {
          rolloutPolicy: 'p',
          reconcileIntervalMinutes: 30,
          freshnessWindow: 60,
          signingIntervalMinutes: 30,
        },
      ])
    ),
    rolloutPolicies: {
      p: { strategy: 'canary', waves: [], healthGate: {}, onHealthFailure: 'halt' },
    },
    waves: opts.waves ?? {},
    disruptionBudgets: opts.budgets ?? [],
    meta: {
      schemaVersion: 1,
      signedAt: SIGNED_AT,
      ciCommit: opts.ciCommit === undefined ? CI : opts.ciCommit,
    },
  })
}

describe('projectRolloutManifest', () => {
  test('the stable channel of the fixture fleet, as a whole', () => {
    const m = projectRolloutManifest(fixtureFleet(), HASH, ch('stable'), 'ecdsa-p256')
    expect(m).toEqual({
      schemaVersion: 1,
      displayName: 'stable@01234567',
      channel: ch('stable'),
      channelRef: CI,
      fleetResolvedHash: HASH,
      hostSet: [
        { hostname: 'db-01', waveIndex: 1, targetClosure: C['db-01'] },
        { hostname: 'web-01', waveIndex: 0, targetClosure: C['web-01'] },
        { hostname: 'web-02', waveIndex: 1, targetClosure: C['web-02'] },
      ],
      healthGate: { systemdFailedUnits: { max: 0 } },
      complianceFrameworks: [],
      disruptionBudgets: [
        {
          selector: { ...EMPTY_SELECTOR, tags: ['web'] },
          hosts: ['web-01', 'web-02'],
          maxInFlight: 1,
          maxInFlightPct: null,
        },
      ],
      meta: {
        schemaVersion: 1,
        signedAt: SIGNED_AT,
        ciCommit: CI,
        signatureAlgorithm: 'ecdsa-p256',
      },
    } as never)
    expect(v.safeParse(RolloutManifestSchema, m).success).toBe(true)
  })

  test('the edge channel: its own health gate, budgets resolved against hosts of other channels', () => {
    const m = projectRolloutManifest(fixtureFleet(), HASH, ch('edge'), 'ed25519')
    expect(m).toEqual({
      schemaVersion: 1,
      displayName: 'edge@01234567',
      channel: ch('edge'),
      channelRef: CI,
      fleetResolvedHash: HASH,
      hostSet: [{ hostname: 'dev-01', waveIndex: 0, targetClosure: C['dev-01'] }],
      healthGate: {},
      complianceFrameworks: [],
      disruptionBudgets: [
        {
          selector: { ...EMPTY_SELECTOR, tags: ['web'] },
          hosts: ['web-01', 'web-02'],
          maxInFlight: 1,
          maxInFlightPct: null,
        },
      ],
      meta: { schemaVersion: 1, signedAt: SIGNED_AT, ciCommit: CI, signatureAlgorithm: 'ed25519' },
    } as never)
  })

  test('hostSet is sorted by hostname in UTF-16 code-unit order, whatever the fleet order', () => {
    const f = smallFleet({ hosts: { zeta: {}, alpha: {}, Mike: {}, 'alpha-2': {}, alpha2: {} } })
    const m = projectRolloutManifest(f, HASH, ch('stable'), 'ed25519')
    expect(m?.hostSet.map((h): string => h.hostname)).toEqual([
      'Mike',
      'alpha',
      'alpha-2',
      'alpha2',
      'zeta',
    ])
  })

  test('waveIndex is the first wave holding the host, else 0; a channel without waves gives 0', () => {
    const hosts = { a: {}, b: {}, c: {}, d: {}, e: {} }
    const waves = {
      stable: [
        { hosts: ['a'], soakMinutes: 0 },
        { hosts: ['b', 'c'], soakMinutes: 5 },
        { hosts: ['c', 'd'], soakMinutes: 5 },
      ],
    }
    const m = projectRolloutManifest(smallFleet({ hosts, waves }), HASH, ch('stable'), 'ed25519')
    expect(m?.hostSet.map((h): [string, number] => [h.hostname, h.waveIndex])).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 1],
      ['d', 2],
      ['e', 0],
    ])
    const noWaves = projectRolloutManifest(smallFleet({ hosts }), HASH, ch('stable'), 'ed25519')
    expect(noWaves?.hostSet.map((h) => h.waveIndex)).toEqual([0, 0, 0, 0, 0])
  })

  test('hosts without a closure are left out; a channel with no closure gets no manifest', () => {
    const f = fixtureFleet((x) => {
      x.hosts['web-02'].closureHash = null
      x.hosts['dev-01'].closureHash = null
    })
    const stable = projectRolloutManifest(f, HASH, ch('stable'), 'ed25519')
    expect(stable?.hostSet.map((h): string => h.hostname)).toEqual(['db-01', 'web-01'])
    // Budgets still list every matching host of the fleet, with or without a closure.
    expect(stable?.disruptionBudgets.map((b): string[] => b.hosts)).toEqual([['web-01', 'web-02']])
    expect(projectRolloutManifest(f, HASH, ch('edge'), 'ed25519')).toBeUndefined()
    expect(projectRolloutManifest(f, HASH, ch('nonexistent'), 'ed25519')).toBeUndefined()
  })

  test('budgets: each selector resolved against all hosts, host lists sorted, order of budgets kept', () => {
    const f = smallFleet({
      channels: ['stable', 'edge'],
      hosts: {
        'web-9': { tags: ['web'] },
        'web-10': { tags: ['web', 'eu'] },
        'db-1': { tags: ['db', 'eu'] },
        'dev-1': { channel: 'edge', tags: ['dev', 'eu'], closureHash: null },
      },
      budgets: [
        { selector: { tagsAny: ['eu'] }, maxInFlight: null, maxInFlightPct: 50 },
        { selector: { channel: 'edge' }, maxInFlight: 1, maxInFlightPct: null },
        { hosts: ['web-9', 'db-1'], maxInFlight: 2, maxInFlightPct: null },
        { selector: {}, maxInFlight: 0, maxInFlightPct: null },
      ],
    })
    const m = projectRolloutManifest(f, HASH, ch('stable'), 'ed25519')
    expect(m?.disruptionBudgets).toEqual([
      {
        selector: { ...EMPTY_SELECTOR, tagsAny: ['eu'] },
        hosts: ['db-1', 'dev-1', 'web-10'],
        maxInFlight: null,
        maxInFlightPct: 50,
      },
      {
        selector: { ...EMPTY_SELECTOR, channel: 'edge' },
        hosts: ['dev-1'],
        maxInFlight: 1,
        maxInFlightPct: null,
      },
      {
        selector: { ...EMPTY_SELECTOR, hosts: ['web-9', 'db-1'] },
        hosts: ['db-1', 'web-9'],
        maxInFlight: 2,
        maxInFlightPct: null,
      },
      { selector: EMPTY_SELECTOR, hosts: [], maxInFlight: 0, maxInFlightPct: null },
    ] as never)
  })

  test('budgets with and/not resolve as mkFleet does; the manifest keeps them only when set', () => {
    const none = { ...EMPTY_SELECTOR, and: [], not: null }
    const f = smallFleet({
      channels: ['stable', 'lab'],
      hosts: {
        'db-1': { tags: ['db'] },
        'db-2': { channel: 'lab', tags: ['db'] },
        'db-3': { tags: ['db', 'canary'] },
        'web-1': { tags: ['web'] },
      },
      budgets: [
        {
          selector: {
            ...none,
            and: [
              { ...none, tags: ['db'] },
              { ...none, not: { ...none, channel: 'lab' } },
            ],
          },
          maxInFlight: 1,
          maxInFlightPct: null,
        },
        { selector: { ...none, all: true, not: { ...none, tagsAny: ['db'] } }, maxInFlight: 1 },
        { selector: { ...none, tags: ['canary'] }, maxInFlight: 1 },
      ],
    })
    const m = projectRolloutManifest(f, HASH, ch('stable'), 'ed25519')
    expect(m?.disruptionBudgets).toEqual([
      {
        selector: {
          ...EMPTY_SELECTOR,
          and: [
            { ...EMPTY_SELECTOR, tags: ['db'] },
            { ...EMPTY_SELECTOR, not: { ...EMPTY_SELECTOR, channel: 'lab' } },
          ],
        },
        hosts: ['db-1', 'db-3'],
        maxInFlight: 1,
        maxInFlightPct: null,
      },
      {
        // `not` wins over `all`; the ignored `all` is carried as written.
        selector: { ...EMPTY_SELECTOR, all: true, not: { ...EMPTY_SELECTOR, tagsAny: ['db'] } },
        hosts: ['web-1'],
        maxInFlight: 1,
        maxInFlightPct: null,
      },
      {
        // mkFleet's `and: [], not: null` are left out: the reference's bytes for a plain budget.
        selector: { ...EMPTY_SELECTOR, tags: ['canary'] },
        hosts: ['db-3'],
        maxInFlight: 1,
        maxInFlightPct: null,
      },
    ] as never)
    expect(m?.disruptionBudgets[2]?.selector).not.toHaveProperty('and')
    expect(m?.disruptionBudgets[2]?.selector).not.toHaveProperty('not')
    expect(v.safeParse(RolloutManifestSchema, m).success).toBe(true)
  })

  test('a null ciCommit gives displayName {channel}@unknown and channelRef ""', () => {
    const m = projectRolloutManifest(
      smallFleet({ hosts: { a: {} }, ciCommit: null }),
      HASH,
      ch('stable'),
      'ed25519'
    )
    expect(
      m && { displayName: m.displayName, channelRef: m.channelRef, ciCommit: m.meta.ciCommit }
    ).toEqual({
      displayName: 'stable@unknown',
      channelRef: '',
      ciCommit: null,
    })
  })

  test('a short ciCommit is used whole in displayName', () => {
    const m = projectRolloutManifest(
      smallFleet({ hosts: { a: {} }, ciCommit: 'abc' }),
      HASH,
      ch('stable'),
      'ed25519'
    )
    expect(m?.displayName).toBe('stable@abc')
  })

  test("complianceFrameworks is the projected channel's compliance.frameworks, else []", () => {
    const f = fixtureFleet((x) => {
      x.channels.stable.compliance = { frameworks: ['anssi-bp028', 'dora'], mode: 'enforce' }
      x.channels.edge.compliance = { frameworks: [], mode: 'permissive' }
    })
    expect(projectRolloutManifest(f, HASH, ch('stable'), 'ed25519')?.complianceFrameworks).toEqual([
      'anssi-bp028',
      'dora',
    ])
    expect(projectRolloutManifest(f, HASH, ch('edge'), 'ed25519')?.complianceFrameworks).toEqual([])
    // A fleet in the newest reference shape (no compliance) still gets the field.
    const bare = projectRolloutManifest(fixtureFleet(), HASH, ch('stable'), 'ed25519')
    expect(bare?.complianceFrameworks).toEqual([])
  })

  test('the health gate comes from the policy of the projected channel', () => {
    const f = fixtureFleet((x) => {
      x.rolloutPolicies.all.healthGate = { systemdFailedUnits: { max: 3 } }
    })
    expect(projectRolloutManifest(f, HASH, ch('edge'), 'ed25519')?.healthGate).toEqual({
      systemdFailedUnits: { max: 3 },
    })
    expect(projectRolloutManifest(f, HASH, ch('stable'), 'ed25519')?.healthGate).toEqual({
      systemdFailedUnits: { max: 0 },
    })
  })

  test('channel and policy names that collide with Object.prototype members are plain names', () => {
    const f = smallFleet({ channels: ['constructor'], hosts: { a: { channel: 'constructor' } } })
    const m = projectRolloutManifest(f, HASH, ch('constructor'), 'ed25519')
    expect(m?.hostSet).toEqual([
      { hostname: 'a', waveIndex: 0, targetClosure: 'a-closure' },
    ] as never)
    expect(m?.healthGate).toEqual({})
  })
})

describe('normalizeRolloutPolicies', () => {
  const synthetic = {
    selector: { all: true, channel: null, hosts: [], tags: [], tagsAny: [] },
    soakMinutes: 0,
  }

  test('an all-at-once policy with no waves gets one synthetic all-hosts wave; others are untouched', () => {
    const f = fixtureFleet((x) => {
      x.rolloutPolicies.emptyCanary = {
        strategy: 'canary',
        waves: [],
        healthGate: {},
        onHealthFailure: 'halt',
      }
      x.rolloutPolicies.allWithWaves = {
        strategy: 'all-at-once',
        waves: [{ selector: { hosts: ['db-01'] }, soakMinutes: 7 }],
        healthGate: {},
        onHealthFailure: 'halt',
      }
    })
    const n = normalizeRolloutPolicies(f)
    expect(n.rolloutPolicies).toEqual({
      ...f.rolloutPolicies,
      all: { ...f.rolloutPolicies.all!, waves: [synthetic] },
    })
    expect(n.rolloutPolicies.emptyCanary!.waves).toEqual([])
    expect(n.rolloutPolicies.allWithWaves!.waves).toEqual([
      { selector: { ...EMPTY_SELECTOR, hosts: ['db-01'] }, soakMinutes: 7 },
    ] as never)
    // The input is not mutated, and everything but the policies is carried over.
    expect(f.rolloutPolicies.all!.waves).toEqual([])
    expect({ ...n, rolloutPolicies: f.rolloutPolicies }).toEqual(f)
  })

  test('a fleet with nothing to normalise is returned as is', () => {
    const f = fixtureFleet((x) => delete x.rolloutPolicies.all)
    expect(normalizeRolloutPolicies(f)).toBe(f)
  })
})

describe('rolloutIdFor and checkManifestBinding', () => {
  const manifest = { channel: 'stable', channelRef: CI, fleetResolvedHash: HASH }

  test('rolloutIdFor is {channel}@{ciCommit}', () => {
    expect(rolloutIdFor('stable', CI)).toBe(`stable@${CI}`)
    expect(rolloutIdFor('edge', null)).toBe('edge@')
  })

  test('a manifest bound to the requested id and fleet passes; without a fleet the anchor is not checked', () => {
    expect(checkManifestBinding(manifest, `stable@${CI}`, HASH)).toBeUndefined()
    expect(checkManifestBinding(manifest, `stable@${CI}`, undefined)).toBeUndefined()
  })

  test('discriminator mismatch: another channel or another commit', () => {
    for (const id of [`edge@${CI}`, 'stable@0123456789abcdef', `stable@${CI}0`]) {
      expect(checkManifestBinding(manifest, id, HASH)).toEqual({
        kind: 'RolloutIdMismatch',
        message: `manifest is for rollout stable@${CI}, not ${id} (discriminator mismatch)`,
      })
    }
  })

  test('anchor mismatch: the manifest derives from another fleet.resolved', () => {
    expect(checkManifestBinding(manifest, `stable@${CI}`, OTHER_HASH)).toEqual({
      kind: 'AnchorMismatch',
      message:
        'manifest fleetResolvedHash does not match the fleet.resolved it claims to derive from',
    })
  })

  test('the discriminator is checked before the anchor', () => {
    expect(checkManifestBinding(manifest, `edge@${CI}`, OTHER_HASH)?.kind).toBe('RolloutIdMismatch')
  })
})
