/**
 * Tests of the artifact schemas: every JSON example of the reference protocol for these artifacts parses
 * (kept verbatim where the spec gives JSON, with its elisions filled in by explicit replacements),
 * legacy spellings fold onto the newest ones, bad input fails with a path naming the field, and
 * the pure helpers (rollout ids, RFC 3339, active keys, issue summaries) behave at their edges.
 * Over 400 lines: the spec's JSON examples, kept verbatim so they can be compared, are most of it.
 */
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import * as v from 'valibot'
import { BootstrapNoncesSchema, BootstrapTokenSchema } from './bootstrap.ts'
import {
  type HealthGate,
  MAX_SELECTOR_DEPTH,
  type Meta,
  parseRfc3339Ms,
  Rfc3339Schema,
  type Selector,
  SelectorSchema,
  toRfc3339,
  U32Schema,
} from './common.ts'
import {
  type ChannelEdge,
  type DisruptionBudget,
  FleetResolvedSchema,
  type Host,
  type Pin,
} from './fleet.ts'
import {
  type ChannelName,
  ChannelNameSchema,
  type CiCommit,
  CiCommitSchema,
  type ClosureHash,
  ClosureHashSchema,
  formatRolloutId,
  type Hostname,
  HostnameSchema,
  parseRolloutId,
  type RolloutId,
  RolloutIdSchema,
  Sha256HexSchema,
  WireClosureHashSchema,
} from './ids.ts'
import { summarizeIssues } from './issues.ts'
import { RolloutManifestSchema } from './manifest.ts'
import { RevocationsSchema } from './revocations.ts'
import {
  activeKeysAt,
  type KeySlot,
  KeySlotSchema,
  type TrustFile,
  TrustFileSchema,
  type TrustKey,
} from './trust.ts'

type Equal<X, Y> =
  (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false
type Expect<T extends true> = T

// Compile-time checks of the inferred types that core code relies on.
export type TypeTests = [
  Expect<
    Equal<
      Host,
      {
        platform: string
        tags: string[]
        channel: ChannelName
        closureHash: ClosureHash | null
        pubkey: string | null
        pin?: Pin | null | undefined
      }
    >
  >,
  Expect<
    Equal<
      Meta,
      {
        schemaVersion: number
        signedAt: string | null
        ciCommit: string | null
        signatureAlgorithm?: string | null | undefined
      }
    >
  >,
  // Selector is declared (it is recursive), and SelectorSchema is checked against it.
  Expect<Equal<v.InferOutput<typeof SelectorSchema>, Selector>>,
  Expect<Equal<ChannelEdge, { gates: ChannelName; gated: ChannelName; reason: string | null }>>,
  Expect<
    Equal<
      DisruptionBudget,
      { selector: Selector; maxInFlight: number | null; maxInFlightPct: number | null }
    >
  >,
  Expect<
    Equal<
      HealthGate,
      {
        systemdFailedUnits?: { max: number } | null | undefined
        complianceProbes?: { required: boolean } | null | undefined
        sustainedFailureSecs?: number | null | undefined
        deferredCountsAsDone?: boolean | null | undefined
      }
    >
  >,
  Expect<Equal<TrustFile['schemaVersion'], 1>>,
  Expect<Equal<TrustFile['rootCaPem'], string | null>>,
  Expect<Equal<TrustFile['issuanceCaPems'], string[]>>,
  Expect<Equal<ReturnType<typeof formatRolloutId>, RolloutId>>,
]

/** Replaces each elision of a spec example by a concrete value; fails loudly if one is missing. */
function fill(template: string, replacements: readonly (readonly [string, string])[]): string {
  let out = template
  for (const [from, to] of replacements) {
    expect(out).toContain(from)
    out = out.replace(from, to)
  }
  return out
}

const parseOk = <T>(schema: v.GenericSchema<unknown, T>, input: unknown): T => {
  const r = v.safeParse(schema, input)
  if (!r.success) throw new Error(summarizeIssues(r.issues))
  return r.output
}

const failSummary = (schema: v.GenericSchema, input: unknown): string => {
  const r = v.safeParse(schema, input)
  expect(r.success).toBe(false)
  return r.success ? '' : summarizeIssues(r.issues)
}

// protocol.md §3.1, verbatim. The spec elides the older `compliance` object as `{...}`.
const PROTOCOL_3_1_CANONICAL = fill(
  '{"channelEdges":[],"channels":{"stable":{"compliance":{...},"freshnessWindow":180,"reconcileIntervalMinutes":30,"rolloutPolicy":"none","signingIntervalMinutes":60}},"disruptionBudgets":[],"edges":[],"hosts":{"h1":{"channel":"stable","closureHash":"sha256-abc123","pubkey":"ssh-ed25519 AAAA...","system":"x86_64-linux","tags":["production"]}},"meta":{"ciCommit":"deadbeef","schemaVersion":1,"signatureAlgorithm":"ed25519","signedAt":"2026-04-24T10:00:00Z"},"rolloutPolicies":{"none":{"healthGate":{"systemdFailedUnits":{"max":0}},"onHealthFailure":"halt","strategy":"all-at-once","waves":[{"selector":{"all":true,"channel":null,"hosts":[],"tags":[],"tagsAny":[]},"soakMinutes":0}]}},"schemaVersion":1,"waves":{"stable":[{"hosts":["h1"],"soakMinutes":0}]}}',
  [['{...}', '{"frameworks":["nis2"],"mode":"enforce"}']]
)

// nix-and-operator-ux.md §3 (mkFleet `resolved` shape), verbatim including its `//` notes.
const NIX_RESOLVED_SHAPE = `{"schemaVersion":1,
 "meta":{"schemaVersion":1,"signedAt":null,"ciCommit":null},            // + signatureAlgorithm after stamping
 "hosts":{"web-01":{"system":"x86_64-linux","tags":[…],"channel":"stable","pubkey":null,"closureHash":null,"pin":{…}?}},
 "channels":{"stable":{"rolloutPolicy":"default","reconcileIntervalMinutes":30,"signingIntervalMinutes":60,"freshnessWindow":180,"compliance":{"mode":"enforce","frameworks":[]}}},
 "rolloutPolicies":{…verbatim, selectors fully expanded with defaults…},
 "waves":{"stable":[{"hosts":["edge-01","web-01"],"soakMinutes":0}]},   // pre-resolved host lists, sorted
 "edges":[…], "channelEdges":[{"gates":…,"gated":…,"reason":…}],
 "disruptionBudgets":[{"selector":{…},"maxInFlight":null,"maxInFlightPct":null}]}  // selector kept (resolved at rollout open)`

const NIX_RESOLVED = fill(NIX_RESOLVED_SHAPE.replace(/\s+\/\/ .*$/gm, ''), [
  ['"tags":[…]', '"tags":["web","eu"]'],
  [
    '"pin":{…}?',
    '"pin":{"commit":"0123456789abcdef0123456789abcdef01234567","reason":"audit freeze"}',
  ],
  [
    '{…verbatim, selectors fully expanded with defaults…}',
    '{"default":{"strategy":"canary","waves":[{"selector":{"tags":[],"tagsAny":[],"hosts":["edge-01"],"channel":null,"all":false},"soakMinutes":15},{"selector":{"tags":[],"tagsAny":[],"hosts":[],"channel":null,"all":true},"soakMinutes":30}],"healthGate":{},"onHealthFailure":"rollback-and-halt"}}',
  ],
  ['"edges":[…]', '"edges":[{"gated":"web-01","gates":"edge-01","reason":""}]'],
  ['"gates":…', '"gates":"edge"'],
  ['"gated":…', '"gated":"stable"'],
  ['"reason":…', '"reason":null'],
  [
    '"selector":{…}',
    '"selector":{"tags":["web"],"tagsAny":[],"hosts":[],"channel":null,"all":false}',
  ],
])

// protocol.md §3.5, verbatim, placeholders filled with well-formed values.
const PROTOCOL_3_5_TOKEN = fill(
  `{ "version": 1,
  "claims": { "hostname": "web-01", "expectedPubkeyFingerprint": "<b64 sha256(raw ed25519 pubkey)>",
              "issuedAt": "RFC3339", "expiresAt": "RFC3339", "nonce": "<32 hex chars>" },
  "signature": "<base64 ed25519 over JCS(claims)>" }`,
  [
    ['<b64 sha256(raw ed25519 pubkey)>', 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg='],
    ['"RFC3339"', '"2026-05-01T09:00:00Z"'],
    ['"RFC3339"', '"2026-05-02T09:00:00.123456Z"'],
    ['<32 hex chars>', '3f2a9c0e5b7d41a6c8e0f1a2b3c4d5e6'],
    ['<base64 ed25519 over JCS(claims)>', `${'A'.repeat(86)}==`],
  ]
)

// nix-and-operator-ux.md §2.3, the emitted trust.json, verbatim (Nix spells the CA keys rootCAPem).
const NIX_TRUST_JSON = `{"schemaVersion":1,
 "ciReleaseKey":{"current":{"algorithm":"ed25519","public":"…"},"previous":null,"rejectBefore":null,"successor":null,"retireAt":null},
 "cacheKeys":[],
 "orgRootKey":{"current":{"algorithm":"ed25519","public":"…"},"previous":null,"rejectBefore":null,"successor":null,"retireAt":null},
 "rootCAPem":null,"issuanceCAPems":[]}`

const PEM_ROOT = '-----BEGIN CERTIFICATE-----\nMIIBroot\n-----END CERTIFICATE-----\n'
const PEM_ISSUING = '-----BEGIN CERTIFICATE-----\nMIIBissuing\n-----END CERTIFICATE-----\n'
const ED_KEY_A = { algorithm: 'ed25519', public: '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' }
const ED_KEY_B = { algorithm: 'ed25519', public: 'PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=' }
const P256_KEY = { algorithm: 'ecdsa-p256', public: `${'B'.repeat(86)}==` }

// protocol.md §4 trust.json shape with every slot member concrete.
const PROTOCOL_4_TRUST = {
  schemaVersion: 1,
  ciReleaseKey: {
    current: P256_KEY,
    previous: ED_KEY_A,
    rejectBefore: '2026-01-01T00:00:00Z',
    successor: ED_KEY_B,
    retireAt: '2026-07-01T00:00:00Z',
  },
  cacheKeys: ['cache.example.org-1:base64key=', 'attic:cache.example.org:base64key='],
  orgRootKey: {
    current: ED_KEY_A,
    previous: null,
    rejectBefore: null,
    successor: null,
    retireAt: null,
  },
  rootCaPem: PEM_ROOT,
  issuanceCaPems: [PEM_ISSUING],
}

const META_SIGNED = {
  schemaVersion: 1,
  signedAt: '2026-04-28T10:00:00Z',
  ciCommit: '0123456789abcdef0123456789abcdef01234567',
  signatureAlgorithm: 'ed25519',
}

// protocol.md §3.3 shape:
// `{schemaVersion:1, revocations:[{hostname, notBefore, reason, revokedBy}], meta}`.
const PROTOCOL_3_3_REVOCATIONS = {
  schemaVersion: 1,
  revocations: [
    {
      hostname: 'old-laptop',
      notBefore: '2026-04-26T00:00:00Z',
      reason: 'decommissioned',
      revokedBy: 'operator',
    },
    { hostname: 'web-02', notBefore: '2026-04-27T12:30:00+02:00', reason: null, revokedBy: null },
    // The reference's optional fields may also be omitted.
    { hostname: 'db-01', notBefore: '2026-04-27T00:00:00Z' },
  ],
  meta: META_SIGNED,
}

// protocol.md §3.4 shape:
// `{schemaVersion:1, bootstrapNonces:[{nonce, hostname, expiresAt, mintedAt?, mintedBy?}], meta}`.
const PROTOCOL_3_4_NONCES = {
  schemaVersion: 1,
  bootstrapNonces: [
    {
      nonce: '3f2a9c0e5b7d41a6c8e0f1a2b3c4d5e6',
      hostname: 'web-01',
      expiresAt: '2026-05-02T09:00:00Z',
      mintedAt: '2026-05-01T09:00:00Z',
      mintedBy: 'alice',
    },
    {
      nonce: 'aa00bb11cc22dd33ee44ff5566778899',
      hostname: 'web-02',
      expiresAt: '2026-05-03T00:00:00Z',
    },
  ],
  meta: META_SIGNED,
}

const STRICT_CLOSURE = '0c7ynqmkh3yy8ykydyh9g6ddwzl2jddr-nixos-system-web-01-24.11'

// protocol.md §3.2 manifest, projected from the §3.1 example fleet as the table describes.
const PROTOCOL_3_2_MANIFEST = {
  schemaVersion: 1,
  displayName: 'stable@deadbeef',
  channel: 'stable',
  channelRef: 'deadbeef',
  fleetResolvedHash: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  hostSet: [
    { hostname: 'h1', waveIndex: 0, targetClosure: 'sha256-abc123' },
    { hostname: 'h2', waveIndex: 1, targetClosure: STRICT_CLOSURE },
  ],
  healthGate: { systemdFailedUnits: { max: 0 } },
  disruptionBudgets: [
    {
      selector: { tags: ['production'], tagsAny: [], hosts: [], channel: null, all: false },
      hosts: ['h1', 'h2'],
      maxInFlight: 1,
      maxInFlightPct: null,
    },
  ],
  meta: { ...META_SIGNED, ciCommit: 'deadbeef', signedAt: '2026-04-24T10:00:00Z' },
}

describe('spec examples parse', () => {
  test('fleet.resolved canonical example (protocol §3.1, older shape)', () => {
    const fleet = parseOk(FleetResolvedSchema, JSON.parse(PROTOCOL_3_1_CANONICAL))
    expect(fleet).toEqual({
      schemaVersion: 1,
      hosts: {
        ['h1' as Hostname]: {
          platform: 'x86_64-linux',
          tags: ['production'],
          channel: 'stable' as ChannelName,
          closureHash: 'sha256-abc123' as ClosureHash,
          pubkey: 'ssh-ed25519 AAAA...',
        },
      },
      channels: {
        ['stable' as ChannelName]: {
          rolloutPolicy: 'none',
          reconcileIntervalMinutes: 30,
          freshnessWindow: 180,
          signingIntervalMinutes: 60,
          compliance: { frameworks: ['nis2'], mode: 'enforce' },
        },
      },
      rolloutPolicies: {
        none: {
          strategy: 'all-at-once',
          waves: [
            {
              selector: { tags: [], tagsAny: [], hosts: [], channel: null, all: true },
              soakMinutes: 0,
            },
          ],
          healthGate: { systemdFailedUnits: { max: 0 } },
          onHealthFailure: 'halt',
        },
      },
      waves: { ['stable' as ChannelName]: [{ hosts: ['h1' as Hostname], soakMinutes: 0 }] },
      edges: [],
      channelEdges: [],
      disruptionBudgets: [],
      meta: {
        schemaVersion: 1,
        signedAt: '2026-04-24T10:00:00Z',
        ciCommit: 'deadbeef',
        signatureAlgorithm: 'ed25519',
      },
    })
  })

  test('mkFleet resolved shape (nix-and-operator-ux §3), unsigned meta', () => {
    const fleet = parseOk(FleetResolvedSchema, JSON.parse(NIX_RESOLVED))
    expect(fleet.meta).toEqual({ schemaVersion: 1, signedAt: null, ciCommit: null })
    const host = fleet.hosts['web-01' as Hostname]
    expect(host?.platform).toBe('x86_64-linux')
    expect(host?.pin).toEqual({
      commit: '0123456789abcdef0123456789abcdef01234567',
      reason: 'audit freeze',
    })
    expect(fleet.rolloutPolicies['default']?.healthGate).toEqual({})
    expect(fleet.edges).toEqual([
      { gated: 'web-01' as Hostname, gates: 'edge-01' as Hostname, reason: '' },
    ])
    expect(fleet.channelEdges).toEqual([
      { gates: 'edge' as ChannelName, gated: 'stable' as ChannelName, reason: null },
    ])
    expect(fleet.disruptionBudgets[0]?.maxInFlight).toBeNull()
  })

  test('rollout manifest (protocol §3.2)', () => {
    const m = parseOk(RolloutManifestSchema, PROTOCOL_3_2_MANIFEST)
    // The newest reference shape has no complianceFrameworks: it reads as [].
    expect(m).toEqual({ ...PROTOCOL_3_2_MANIFEST, complianceFrameworks: [] } as unknown as typeof m)
  })

  test('manifest whose fleet had no ciCommit (channelRef "")', () => {
    const m = parseOk(RolloutManifestSchema, {
      ...PROTOCOL_3_2_MANIFEST,
      displayName: 'stable@unknown',
      channelRef: '',
    })
    expect(m.channelRef).toBe('')
  })

  test('revocations (protocol §3.3), optional fields null or omitted', () => {
    const r = parseOk(RevocationsSchema, PROTOCOL_3_3_REVOCATIONS)
    expect(r.revocations[2]).toEqual({
      hostname: 'db-01' as Hostname,
      notBefore: '2026-04-27T00:00:00Z',
      reason: null,
      revokedBy: null,
    })
    expect(parseOk(RevocationsSchema, { ...PROTOCOL_3_3_REVOCATIONS, revocations: [] })).toEqual({
      ...PROTOCOL_3_3_REVOCATIONS,
      revocations: [],
    } as never)
  })

  test('bootstrap nonces (protocol §3.4)', () => {
    const n = parseOk(BootstrapNoncesSchema, PROTOCOL_3_4_NONCES)
    expect(n.bootstrapNonces[1]).toEqual({
      nonce: 'aa00bb11cc22dd33ee44ff5566778899',
      hostname: 'web-02' as Hostname,
      expiresAt: '2026-05-03T00:00:00Z',
      mintedAt: null,
      mintedBy: null,
    })
  })

  test('bootstrap token (protocol §3.5)', () => {
    const t = parseOk(BootstrapTokenSchema, JSON.parse(PROTOCOL_3_5_TOKEN))
    expect(t.version).toBe(1)
    expect(t.claims.hostname).toBe('web-01' as Hostname)
    expect(t.claims.expiresAt).toBe('2026-05-02T09:00:00.123456Z')
  })

  test('a token of another version parses, for the caller to refuse with its own error', () => {
    const t = parseOk(BootstrapTokenSchema, { ...JSON.parse(PROTOCOL_3_5_TOKEN), version: 2 })
    expect(t.version).toBe(2)
  })

  test('trust.json shape (protocol §4) with concrete values', () => {
    const t = parseOk(TrustFileSchema, PROTOCOL_4_TRUST)
    expect(t).toEqual(PROTOCOL_4_TRUST as TrustFile)
  })

  test('trust.json emitted by the Nix module (nix-and-operator-ux §2.3, rootCAPem)', () => {
    const t = parseOk(TrustFileSchema, JSON.parse(NIX_TRUST_JSON))
    expect(t).toEqual({
      schemaVersion: 1,
      ciReleaseKey: {
        current: { algorithm: 'ed25519', public: '…' },
        previous: null,
        rejectBefore: null,
        successor: null,
        retireAt: null,
      },
      cacheKeys: [],
      orgRootKey: {
        current: { algorithm: 'ed25519', public: '…' },
        previous: null,
        rejectBefore: null,
        successor: null,
        retireAt: null,
      },
      rootCaPem: null,
      issuanceCaPems: [],
    })
  })
})

describe('legacy spellings and defaults', () => {
  const base = JSON.parse(PROTOCOL_3_1_CANONICAL) as Record<string, unknown>
  const withHost = (host: Record<string, unknown>) => ({ ...base, hosts: { h1: host } })
  const h1 = { channel: 'stable', closureHash: null, pubkey: null, tags: [] }

  test('host platform (newest) and system (older) both land in platform', () => {
    const a = parseOk(FleetResolvedSchema, withHost({ ...h1, platform: 'aarch64-linux' }))
    expect(a.hosts['h1' as Hostname]?.platform).toBe('aarch64-linux')
    expect(a.hosts['h1' as Hostname]).not.toHaveProperty('system')
  })

  test('a host with both platform and system, or neither, is refused', () => {
    expect(failSummary(FleetResolvedSchema, withHost({ ...h1, platform: 'a', system: 'b' }))).toBe(
      'hosts.h1.system: use platform or system, not both'
    )
    expect(failSummary(FleetResolvedSchema, withHost(h1))).toBe(
      'hosts.h1.platform: required (platform)'
    )
  })

  test('closureHash and pubkey may be absent (serde Option)', () => {
    const f = parseOk(
      FleetResolvedSchema,
      withHost({ system: 'x86_64-linux', tags: [], channel: 'stable' })
    )
    expect(f.hosts['h1' as Hostname]).toEqual({
      platform: 'x86_64-linux',
      tags: [],
      channel: 'stable' as ChannelName,
      closureHash: null,
      pubkey: null,
    })
  })

  test('pin: null is accepted like an absent pin; expiresAt must be RFC 3339', () => {
    const f = parseOk(FleetResolvedSchema, withHost({ ...h1, system: 'x', pin: null }))
    expect(f.hosts['h1' as Hostname]?.pin).toBeNull()
    // mkFleet writes expiresAt: null for a pin without expiry: the same as an absent expiresAt.
    const pinOf = (pin: unknown) =>
      parseOk(FleetResolvedSchema, withHost({ ...h1, system: 'x', pin })).hosts['h1' as Hostname]
        ?.pin
    const noExpiry = pinOf({ commit: 'abc', reason: 'r', expiresAt: null })
    expect(noExpiry).toEqual({ commit: 'abc', reason: 'r' })
    expect(noExpiry).not.toHaveProperty('expiresAt')
    expect(pinOf({ commit: 'abc', reason: 'r' })).toEqual(noExpiry!)
    expect(pinOf({ commit: 'abc', reason: 'r', expiresAt: '2031-01-01T00:00:00Z' })).toEqual({
      commit: 'abc',
      reason: 'r',
      expiresAt: '2031-01-01T00:00:00Z',
    })
    const bad = withHost({
      ...h1,
      system: 'x',
      pin: { commit: 'abc', reason: 'r', expiresAt: 'next week' },
    })
    expect(failSummary(FleetResolvedSchema, bad)).toBe(
      'hosts.h1.pin.expiresAt: expected an RFC 3339 date-time'
    )
  })

  test('channelEdges accept before/after as aliases of gates/gated', () => {
    const f = parseOk(FleetResolvedSchema, {
      ...base,
      channelEdges: [
        { before: 'edge', after: 'stable', reason: 'edge first' },
        { gates: 'stable', gated: 'prod' },
      ],
    })
    expect(f.channelEdges).toEqual([
      { gates: 'edge' as ChannelName, gated: 'stable' as ChannelName, reason: 'edge first' },
      { gates: 'stable' as ChannelName, gated: 'prod' as ChannelName, reason: null },
    ])
  })

  test('channelEdges mixing both spellings of one end, or missing one, are refused', () => {
    expect(
      failSummary(FleetResolvedSchema, {
        ...base,
        channelEdges: [{ gates: 'edge', before: 'edge', gated: 'stable' }],
      })
    ).toBe('channelEdges.0.before: use gates or before, not both')
    expect(failSummary(FleetResolvedSchema, { ...base, channelEdges: [{ before: 'edge' }] })).toBe(
      'channelEdges.0.gated: required (gated)'
    )
  })

  test('host edges do not accept the inverted before/after spelling', () => {
    const summary = failSummary(FleetResolvedSchema, {
      ...base,
      edges: [{ before: 'h1', after: 'h2' }],
    })
    expect(summary).toBe('edges.0.gated: required; edges.0.gates: required')
  })

  test('disruption budgets: selector form, and the older hosts[] form becomes a selector', () => {
    const f = parseOk(FleetResolvedSchema, {
      ...base,
      disruptionBudgets: [
        { selector: { tags: ['production'] }, maxInFlight: 2, maxInFlightPct: null },
        { hosts: ['h1', 'h2'], maxInFlight: 1 },
      ],
    })
    expect(f.disruptionBudgets).toEqual([
      {
        selector: { tags: ['production'], tagsAny: [], hosts: [], channel: null, all: false },
        maxInFlight: 2,
        maxInFlightPct: null,
      },
      {
        selector: {
          tags: [],
          tagsAny: [],
          hosts: ['h1' as Hostname, 'h2' as Hostname],
          channel: null,
          all: false,
        },
        maxInFlight: 1,
        maxInFlightPct: null,
      },
    ])
    expect(
      failSummary(FleetResolvedSchema, { ...base, disruptionBudgets: [{ maxInFlight: 1 }] })
    ).toBe('disruptionBudgets.0.selector: required (selector)')
  })

  test('selector members default like serde #[serde(default)]', () => {
    const f = parseOk(FleetResolvedSchema, {
      ...base,
      rolloutPolicies: {
        p: {
          strategy: 'canary',
          waves: [{ selector: {}, soakMinutes: 5 }],
          onHealthFailure: 'halt',
        },
      },
    })
    expect(f.rolloutPolicies['p']).toEqual({
      strategy: 'canary',
      waves: [
        {
          selector: { tags: [], tagsAny: [], hosts: [], channel: null, all: false },
          soakMinutes: 5,
        },
      ],
      healthGate: {},
      onHealthFailure: 'halt',
    })
  })

  test('selector and/not: nested selectors parse with the same defaults; absent stays absent', () => {
    expect(parseOk(SelectorSchema, { tags: ['db'] })).not.toHaveProperty('and')
    expect(parseOk(SelectorSchema, { tags: ['db'] })).not.toHaveProperty('not')
    const none = { tags: [], tagsAny: [], hosts: [], channel: null, all: false }
    expect(
      parseOk(SelectorSchema, { and: [{ tags: ['db'] }, { not: { channel: 'lab' } }], not: null })
    ).toEqual({
      ...none,
      and: [
        { ...none, tags: ['db'] },
        { ...none, not: { ...none, channel: 'lab' as ChannelName } },
      ],
      not: null,
    })
    // mkFleet's wire form (every member present) round-trips unchanged.
    const mk = { ...none, and: [], not: { ...none, tagsAny: ['gw'], and: [], not: null } }
    expect(parseOk(SelectorSchema, mk)).toEqual(mk)
    // Budgets of a fleet and of a manifest keep them.
    const budgetSel = { ...none, not: { ...none, tags: ['canary'] } }
    const f = parseOk(FleetResolvedSchema, {
      ...base,
      disruptionBudgets: [{ selector: budgetSel, maxInFlight: 1 }],
    })
    expect(f.disruptionBudgets[0]?.selector).toEqual(budgetSel)
    const m = parseOk(RolloutManifestSchema, {
      ...PROTOCOL_3_2_MANIFEST,
      disruptionBudgets: [{ selector: budgetSel, hosts: ['h1'], maxInFlight: 1 }],
    })
    expect(m.disruptionBudgets[0]?.selector).toEqual(budgetSel)
  })

  test('selector and/not: members are checked at their path', () => {
    expect(failSummary(SelectorSchema, { and: { tags: ['db'] } })).toBe('and: expected Array')
    expect(failSummary(SelectorSchema, { and: [{ tags: 'db' }] })).toBe(
      'and.0.tags: expected Array'
    )
    expect(failSummary(SelectorSchema, { not: { not: { hosts: ['bad host'] } } })).toBe(
      'not.not.hosts.0: expected a hostname ([A-Za-z0-9][A-Za-z0-9._-]*, at most 253 chars)'
    )
  })

  test(`selector and/not: nesting is bounded at ${MAX_SELECTOR_DEPTH} levels`, () => {
    // A chain of `depth` selectors: the top one and depth - 1 nested through not / and.
    const chain = (depth: number, via: 'not' | 'and'): unknown => {
      let s: unknown = { tags: ['db'] }
      for (let i = 1; i < depth; i++) s = via === 'not' ? { not: s } : { and: [s] }
      return s
    }
    expect(MAX_SELECTOR_DEPTH).toBe(16)
    for (const via of ['not', 'and'] as const) {
      expect(v.safeParse(SelectorSchema, chain(MAX_SELECTOR_DEPTH, via)).success).toBe(true)
      // The issue sits at the member of the 16th selector that holds a 17th.
      const path = Array(MAX_SELECTOR_DEPTH)
        .fill(via === 'not' ? 'not' : 'and.0')
        .join('.')
      expect(failSummary(SelectorSchema, chain(MAX_SELECTOR_DEPTH + 1, via))).toBe(
        `${path}: selectors nest deeper than 16 levels (and/not)`
      )
    }
    // The deepest level still accepts the empty forms (mkFleet writes them everywhere).
    let deepest: unknown = { tags: ['db'], and: [], not: null }
    for (let i = 1; i < MAX_SELECTOR_DEPTH; i++) deepest = { not: deepest, and: [], tags: [] }
    expect(v.safeParse(SelectorSchema, deepest).success).toBe(true)
    // A fleet carrying such a selector is refused at the budget's path.
    const deep = { ...base, disruptionBudgets: [{ selector: chain(17, 'not'), maxInFlight: 1 }] }
    expect(failSummary(FleetResolvedSchema, deep)).toStartWith('disruptionBudgets.0.selector.not.')
  })

  test('defaulted top-level collections may be absent; required ones may not', () => {
    const { rolloutPolicies, edges, channelEdges, disruptionBudgets, ...minimal } = base
    void [rolloutPolicies, edges, channelEdges, disruptionBudgets]
    const f = parseOk(FleetResolvedSchema, minimal)
    expect([f.rolloutPolicies, f.edges, f.channelEdges, f.disruptionBudgets]).toEqual([
      {},
      [],
      [],
      [],
    ])
    const { waves, ...noWaves } = minimal
    void waves
    expect(failSummary(FleetResolvedSchema, noWaves)).toBe('waves: required')
  })

  test('older healthGate.complianceProbes is tolerated', () => {
    const f = parseOk(FleetResolvedSchema, {
      ...base,
      rolloutPolicies: {
        p: {
          strategy: 'all-at-once',
          waves: [],
          healthGate: { complianceProbes: { required: true } },
          onHealthFailure: 'rollback-and-halt',
        },
      },
    })
    expect(f.rolloutPolicies['p']?.healthGate).toEqual({ complianceProbes: { required: true } })
  })

  test('trust.json: Nix CA spellings fold onto canonical ones, both at once refused', () => {
    const nixStyle = { ...PROTOCOL_4_TRUST } as Record<string, unknown>
    delete nixStyle['rootCaPem']
    delete nixStyle['issuanceCaPems']
    nixStyle['rootCAPem'] = PEM_ROOT
    nixStyle['issuanceCAPems'] = [PEM_ISSUING]
    expect(parseOk(TrustFileSchema, nixStyle)).toEqual(PROTOCOL_4_TRUST as TrustFile)
    expect(failSummary(TrustFileSchema, { ...PROTOCOL_4_TRUST, rootCAPem: PEM_ROOT })).toBe(
      'rootCAPem: use rootCaPem or rootCAPem, not both'
    )
  })

  test('trust.json: minimal file defaults cacheKeys, orgRootKey and the CA fields', () => {
    expect(parseOk(TrustFileSchema, { schemaVersion: 1, ciReleaseKey: {} })).toEqual({
      schemaVersion: 1,
      ciReleaseKey: {
        current: null,
        previous: null,
        rejectBefore: null,
        successor: null,
        retireAt: null,
      },
      cacheKeys: [],
      orgRootKey: null,
      rootCaPem: null,
      issuanceCaPems: [],
    })
  })
})

describe('rejections name the field and never echo the input', () => {
  const base = JSON.parse(PROTOCOL_3_1_CANONICAL) as Record<string, unknown>

  test('wrong type in a nested map', () => {
    const bad = {
      ...base,
      hosts: { 'web-01': { system: 'x86_64-linux', tags: [], channel: 42 } },
    }
    expect(failSummary(FleetResolvedSchema, bad)).toBe('hosts.web-01.channel: expected string')
  })

  test('bad values report the rule, not the value', () => {
    const secret = 'SECRET-Value-9f8e'
    const bad = {
      ...base,
      meta: { schemaVersion: 1, signedAt: secret, ciCommit: null },
      channels: {
        stable: {
          rolloutPolicy: 'none',
          reconcileIntervalMinutes: -1,
          freshnessWindow: 1.5,
          signingIntervalMinutes: 60,
        },
      },
    }
    const summary = failSummary(FleetResolvedSchema, bad)
    expect(summary).toBe(
      'channels.stable.reconcileIntervalMinutes: expected a non-negative integer; ' +
        'channels.stable.freshnessWindow: expected an integer; ' +
        'meta.signedAt: expected an RFC 3339 date-time'
    )
    expect(summary).not.toContain(secret)
  })

  test('default valibot messages are rebuilt without the received value', () => {
    const secret = 'SECRET-policy-zz'
    const bad = {
      ...base,
      rolloutPolicies: {
        none: { strategy: 'canary', waves: [], onHealthFailure: secret },
      },
    }
    const summary = failSummary(FleetResolvedSchema, bad)
    expect(summary).toBe(
      'rolloutPolicies.none.onHealthFailure: expected ("halt" | "rollback-and-halt")'
    )
    expect(summary).not.toContain(secret)
  })

  test('more than three issues are counted, not listed', () => {
    const summary = failSummary(RevocationsSchema, {
      schemaVersion: 'one',
      revocations: [{ hostname: 5, notBefore: 'x' }],
      meta: {},
    })
    expect(summary).toBe(
      'schemaVersion: expected number; revocations.0.hostname: expected string; ' +
        'revocations.0.notBefore: expected an RFC 3339 date-time (+1 more)'
    )
  })

  test('unknown extra fields are tolerated and dropped everywhere', () => {
    const f = parseOk(FleetResolvedSchema, {
      ...base,
      futureTopLevel: { a: 1 },
      hosts: {
        h1: { system: 'x86_64-linux', tags: [], channel: 'stable', attestation: 'tpm' },
      },
      meta: { ...(base['meta'] as object), timeSource: 'ntp' },
    })
    expect(f).not.toHaveProperty('futureTopLevel')
    expect(f.hosts['h1' as Hostname]).not.toHaveProperty('attestation')
    expect(f.meta).not.toHaveProperty('timeSource')
    const m = parseOk(RolloutManifestSchema, { ...PROTOCOL_3_2_MANIFEST, attestation: 'tpm' })
    expect(m).not.toHaveProperty('attestation')
    const t = parseOk(TrustFileSchema, { ...PROTOCOL_4_TRUST, bundles: [], timeSource: {} })
    expect(t).toEqual(PROTOCOL_4_TRUST as TrustFile)
  })

  test('manifest complianceFrameworks: kept when present, [] when absent, a list of strings', () => {
    const m = parseOk(RolloutManifestSchema, {
      ...PROTOCOL_3_2_MANIFEST,
      complianceFrameworks: ['anssi-bp028', 'nis2'],
    })
    expect(m.complianceFrameworks).toEqual(['anssi-bp028', 'nis2'])
    expect(parseOk(RolloutManifestSchema, PROTOCOL_3_2_MANIFEST).complianceFrameworks).toEqual([])
    expect(
      failSummary(RolloutManifestSchema, { ...PROTOCOL_3_2_MANIFEST, complianceFrameworks: 'nis2' })
    ).toBe('complianceFrameworks: expected Array')
  })

  test('channel compliance: optional (the newest shape dropped it), both members when present', () => {
    const base = JSON.parse(PROTOCOL_3_1_CANONICAL) as Record<string, any>
    const channel = { ...base.channels.stable }
    delete channel.compliance
    const f = parseOk(FleetResolvedSchema, { ...base, channels: { stable: channel } })
    expect(f.channels['stable' as ChannelName]).not.toHaveProperty('compliance')
    expect(
      failSummary(FleetResolvedSchema, {
        ...base,
        channels: { stable: { ...channel, compliance: { frameworks: ['nis2'] } } },
      })
    ).toBe('channels.stable.compliance.mode: required')
  })

  test('trust.json schemaVersion other than 1 is refused', () => {
    expect(failSummary(TrustFileSchema, { ...PROTOCOL_4_TRUST, schemaVersion: 2 })).toBe(
      'schemaVersion: unsupported trust.json schemaVersion (expected 1)'
    )
    expect(failSummary(TrustFileSchema, { ...PROTOCOL_4_TRUST, schemaVersion: '1' })).toBe(
      'schemaVersion: unsupported trust.json schemaVersion (expected 1)'
    )
  })

  test('artifact schemaVersion is left to the verifier', () => {
    const f = parseOk(FleetResolvedSchema, { ...base, schemaVersion: 2 })
    expect(f.schemaVersion).toBe(2)
  })

  test('manifest fleetResolvedHash must be 64 lowercase hex', () => {
    expect(
      failSummary(RolloutManifestSchema, {
        ...PROTOCOL_3_2_MANIFEST,
        fleetResolvedHash: 'ABCDEF',
      })
    ).toBe('fleetResolvedHash: expected a SHA-256 digest (64 lowercase hex chars)')
  })

  test('invalid map keys are reported at the key', () => {
    const bad = { ...base, hosts: { 'bad host': { system: 'x', tags: [], channel: 'stable' } } }
    expect(failSummary(FleetResolvedSchema, bad)).toBe(
      'hosts.bad host: expected a hostname ([A-Za-z0-9][A-Za-z0-9._-]*, at most 253 chars)'
    )
  })
})

describe('ids', () => {
  test('rollout id round trip', () => {
    const channel = v.parse(ChannelNameSchema, 'stable')
    const commit = v.parse(CiCommitSchema, 'deadbeef')
    const id = formatRolloutId(channel, commit)
    expect(id).toBe('stable@deadbeef' as RolloutId)
    expect(v.is(RolloutIdSchema, id)).toBe(true)
    expect(parseRolloutId(id)).toEqual({ channel, ciCommit: commit })
  })

  test('rollout id round trip (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9_-]{1,20}$/),
        fc.stringMatching(/^[0-9a-f]{1,40}$/),
        (channel, commit) => {
          const id = formatRolloutId(channel as ChannelName, commit as CiCommit)
          expect(parseRolloutId(id)).toEqual({
            channel: channel as ChannelName,
            ciCommit: commit as CiCommit,
          })
          expect(v.is(RolloutIdSchema, id)).toBe(true)
        }
      )
    )
  })

  test('parseRolloutId agrees with RolloutIdSchema on arbitrary strings (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'f', 'z', '0', '9', '@', '-', 'A') }),
        (s) => {
          const parsed = parseRolloutId(s)
          expect(parsed !== undefined).toBe(v.is(RolloutIdSchema, s))
          if (parsed) expect(`${parsed.channel}@${parsed.ciCommit}`).toBe(s)
        }
      )
    )
  })

  test.each(['Stable@abc', 'stable@ABC', 'stable@', '@abc', 'a@b@c', 'stable', '', 'st able@abc'])(
    'rejects rollout id %p',
    (s) => {
      expect(parseRolloutId(s)).toBeUndefined()
      expect(v.is(RolloutIdSchema, s)).toBe(false)
    }
  )

  test('hostnames', () => {
    for (const ok of ['web-01', 'h1', 'db_02', 'web-01.eu.example.org', 'A', 'x'.repeat(253)]) {
      expect(v.is(HostnameSchema, ok)).toBe(true)
    }
    for (const bad of ['', '-web', '.web', 'web 01', 'web/01', 'web@01', 'x'.repeat(254)]) {
      expect(v.is(HostnameSchema, bad)).toBe(false)
    }
  })

  test('closure hashes: strict for our inputs, lenient on the wire', () => {
    expect(v.is(ClosureHashSchema, STRICT_CLOSURE)).toBe(true)
    for (const bad of [
      'sha256-abc123',
      // 'e', 'o', 'u' and 't' are not nix-base32.
      'ec7ynqmkh3yy8ykydyh9g6ddwzl2jddr-nixos',
      '0c7ynqmkh3yy8ykydyh9g6ddwzl2jdd-nixos',
      `${STRICT_CLOSURE.slice(0, 32)}-`,
      `/nix/store/${STRICT_CLOSURE}`,
      `${STRICT_CLOSURE.slice(0, 33)}bad name`,
    ]) {
      expect(v.is(ClosureHashSchema, bad)).toBe(false)
    }
    for (const ok of [STRICT_CLOSURE, 'sha256-abc123', `${'0'.repeat(40)}-host-a`]) {
      expect(v.is(WireClosureHashSchema, ok)).toBe(true)
    }
    for (const bad of ['', `/nix/store/${STRICT_CLOSURE}`, '../x']) {
      expect(v.is(WireClosureHashSchema, bad)).toBe(false)
    }
  })

  test('sha256 hex and commit ids', () => {
    expect(v.is(Sha256HexSchema, 'a'.repeat(64))).toBe(true)
    expect(v.is(Sha256HexSchema, 'A'.repeat(64))).toBe(false)
    expect(v.is(Sha256HexSchema, 'a'.repeat(63))).toBe(false)
    expect(v.is(CiCommitSchema, 'deadbeef')).toBe(true)
    expect(v.is(CiCommitSchema, '')).toBe(false)
    expect(v.is(CiCommitSchema, 'DEADBEEF')).toBe(false)
  })
})

describe('common', () => {
  test('u32 bounds', () => {
    expect(v.is(U32Schema, 0)).toBe(true)
    expect(v.is(U32Schema, 4_294_967_295)).toBe(true)
    for (const bad of [-1, 1.5, 4_294_967_296, Number.NaN, Number.POSITIVE_INFINITY, '1']) {
      expect(v.is(U32Schema, bad)).toBe(false)
    }
  })

  test('RFC 3339 timestamps', () => {
    for (const ok of [
      '2026-04-24T10:00:00Z',
      '2026-04-24T10:00:00.123Z',
      '2026-04-24T10:00:00.123456789Z',
      '2026-04-24t10:00:00z',
      '2026-04-24T12:00:00+02:00',
      '2024-02-29T00:00:00-05:30',
    ]) {
      expect(v.is(Rfc3339Schema, ok)).toBe(true)
      expect(parseRfc3339Ms(ok)).toBe(Date.parse(ok))
    }
    for (const bad of [
      '2026-04-24',
      '2026-04-24T10:00:00',
      '2026-04-24 10:00:00Z',
      '2026-02-30T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-04-24T24:00:00Z',
      '2026-04-24T10:00:60Z',
      '2026-13-01T00:00:00Z',
      '2026-04-24T10:00:00+24:00',
      '1714000000',
      'RFC3339',
    ]) {
      expect(v.is(Rfc3339Schema, bad)).toBe(false)
      expect(parseRfc3339Ms(bad)).toBeNaN()
    }
  })

  test('parseRfc3339Ms applies offsets and handles years below 100', () => {
    expect(parseRfc3339Ms('2026-04-24T12:00:00+02:00')).toBe(parseRfc3339Ms('2026-04-24T10:00:00Z'))
    expect(parseRfc3339Ms('2026-04-24T10:00:00.5Z')).toBe(Date.UTC(2026, 3, 24, 10, 0, 0, 500))
    expect(parseRfc3339Ms('0050-01-01T00:00:00Z')).toBe(Date.parse('0050-01-01T00:00:00Z'))
    expect(parseRfc3339Ms('0000-03-01T00:00:00Z')).toBe(Date.parse('0000-03-01T00:00:00Z'))
  })

  test('toRfc3339: UTC with milliseconds, or whole seconds (truncated) without a fraction', () => {
    expect(toRfc3339(Date.UTC(2026, 4, 1, 12, 0, 0, 999))).toBe('2026-05-01T12:00:00.999Z')
    expect(toRfc3339(Date.UTC(2026, 4, 1, 12, 0, 0))).toBe('2026-05-01T12:00:00.000Z')
    expect(toRfc3339(Date.UTC(2026, 4, 1, 12, 0, 0, 999), 'seconds')).toBe('2026-05-01T12:00:00Z')
    expect(toRfc3339(Date.UTC(1999, 11, 31, 23, 59, 59), 'seconds')).toBe('1999-12-31T23:59:59Z')
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        expect(parseRfc3339Ms(toRfc3339(ms))).toBe(ms)
        expect(parseRfc3339Ms(toRfc3339(ms, 'seconds'))).toBe(Math.floor(ms / 1000) * 1000)
      })
    )
  })
})

describe('activeKeysAt', () => {
  const slot = (over: Partial<Record<keyof KeySlot, unknown>>): KeySlot =>
    v.parse(KeySlotSchema, {
      current: ED_KEY_A,
      previous: ED_KEY_B,
      successor: P256_KEY,
      retireAt: '2026-07-01T00:00:00Z',
      ...over,
    })
  const retireMs = Date.UTC(2026, 6, 1)

  test('current, previous, then successor while now < retireAt', () => {
    expect(activeKeysAt(slot({}), retireMs - 1)).toEqual([
      ED_KEY_A,
      ED_KEY_B,
      P256_KEY,
    ] as TrustKey[])
  })

  test('successor is out at retireAt exactly and after it', () => {
    expect(activeKeysAt(slot({}), retireMs)).toEqual([ED_KEY_A, ED_KEY_B] as TrustKey[])
    expect(activeKeysAt(slot({}), retireMs + 1)).toEqual([ED_KEY_A, ED_KEY_B] as TrustKey[])
  })

  test('null members are skipped; order is kept', () => {
    expect(activeKeysAt(slot({ current: null }), 0)).toEqual([ED_KEY_B, P256_KEY] as TrustKey[])
    expect(activeKeysAt(slot({ previous: null, successor: null }), 0)).toEqual([
      ED_KEY_A,
    ] as TrustKey[])
  })

  test('a successor without retireAt is never active', () => {
    expect(activeKeysAt(slot({ retireAt: null }), 0)).toEqual([ED_KEY_A, ED_KEY_B] as TrustKey[])
  })
})
