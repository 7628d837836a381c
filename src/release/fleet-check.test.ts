/**
 * Tests of the release-time fleet check: every golden mkFleet output passes; every mkFleet
 * refusal the resolved form can express is refused with mkFleet's own message (read from the
 * negative fixture's header, so the two cannot drift apart); unknown keys at any level name
 * their path and the key meant; the older spellings the wire accepts pass, and carrying both
 * spellings at once does not.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { checkFleet, formatFleetProblems } from './fleet-check.ts'

const MK_FLEET = join(import.meta.dir, '..', '..', 'nix', 'tests', 'mk-fleet')
const FIXTURE_FLEET = join(import.meta.dir, '..', '..', 'tests', 'fixtures', 'fleet.json')

type Json = Record<string, any>

const readJson = (path: string): Json => JSON.parse(readFileSync(path, 'utf8'))

/** The problems of `fleet`, or [] when it passes. */
function problemsOf(fleet: unknown): readonly string[] {
  const r = checkFleet(fleet)
  return r.ok ? [] : r.violations
}

/** The messages a negative mkFleet fixture's header promises, without the title lines. */
function mkFleetErrors(name: string): string[] {
  const source = readFileSync(join(MK_FLEET, 'negative', `${name}.nix`), 'utf8')
  return [...source.matchAll(/^# error: (.*)$/gm)]
    .map((m) => m[1]!.replace(/^\s*- /, ''))
    .filter((line) => !line.endsWith(':'))
}

// A fleet as mkFleet resolves one, built like the negative fixtures build theirs: every host on
// `x86_64-linux`, every channel with mkFleet's defaults, one all-hosts wave per channel.
const host = (channel: string): Json => ({
  system: 'x86_64-linux',
  tags: [],
  channel,
  pubkey: null,
  closureHash: null,
})
const channel = (rolloutPolicy: string, extra: Json = {}): Json => ({
  rolloutPolicy,
  reconcileIntervalMinutes: 30,
  signingIntervalMinutes: 60,
  freshnessWindow: 180,
  compliance: { mode: 'enforce', frameworks: [] },
  ...extra,
})
const selector = (extra: Json = {}): Json => ({
  tags: [],
  tagsAny: [],
  hosts: [],
  channel: null,
  all: false,
  and: [],
  not: null,
  ...extra,
})
const ALL = {
  strategy: 'all-at-once',
  waves: [{ selector: selector({ all: true }), soakMinutes: 0 }],
  healthGate: {},
  onHealthFailure: 'rollback-and-halt',
}

function resolved(parts: {
  hosts: Json
  channels: Json
  rolloutPolicies?: Json
  edges?: Json[]
  channelEdges?: Json[]
  extra?: Json
}): Json {
  const names = Object.keys(parts.hosts).sort()
  return {
    schemaVersion: 1,
    meta: { schemaVersion: 1, signedAt: null, ciCommit: null },
    hosts: parts.hosts,
    channels: parts.channels,
    rolloutPolicies: parts.rolloutPolicies ?? { all: ALL },
    waves: Object.fromEntries(
      Object.keys(parts.channels).map((c) => [c, [{ hosts: names, soakMinutes: 0 }]])
    ),
    edges: (parts.edges ?? []).map((e) => ({ reason: '', ...e })),
    channelEdges: (parts.channelEdges ?? []).map((e) => ({ reason: '', ...e })),
    disruptionBudgets: [],
    ...parts.extra,
  }
}

/**
 * The negative fixtures of nix/tests/mk-fleet/negative/ as resolved JSON. Not expressible, and so
 * left to mkFleet: host-bad-configuration and static-compliance-enforce (the resolved form has no
 * configurations), unknown-framework (nor the list of frameworks), pin-multi-tag-conflict (nor
 * tags), the merge conflicts (one fleet here), and invalid-definition (its counterpart is the
 * type-stage test below).
 */
const NEGATIVE: Readonly<Record<string, Json>> = {
  'channel-edge-cycle': resolved({
    hosts: { 'web-1': host('stable') },
    channels: { stable: channel('all'), canary: channel('all') },
    channelEdges: [
      { gates: 'canary', gated: 'stable' },
      { before: 'stable', after: 'canary' },
    ],
  }),
  'channel-edge-errors': resolved({
    hosts: { 'web-1': host('stable') },
    channels: { stable: channel('all'), canary: channel('all') },
    channelEdges: [
      { gates: 'canary', before: 'canary', gated: 'stable' },
      { gates: 'canary', gated: 'stable', after: 'stable' },
      { gated: 'stable' },
      { before: 'canary' },
      { gates: 'canry', gated: 'stable' },
      { before: 'canary', after: 'stabel' },
      { gates: 'stable', gated: 'stable' },
    ],
  }),
  'edge-cross-channel': resolved({
    hosts: { 'db-1': host('beta'), 'app-1': host('stable') },
    channels: { stable: channel('all'), beta: channel('all') },
    edges: [{ gated: 'app-1', gates: 'db-1', reason: 'migrations' }],
  }),
  'edge-cycle': resolved({
    hosts: { a: host('stable'), b: host('stable'), c: host('stable'), d: host('stable') },
    channels: { stable: channel('all') },
    edges: [
      { gated: 'd', gates: 'a' },
      { gated: 'a', gates: 'b' },
      { gated: 'b', gates: 'c' },
      { gated: 'c', gates: 'a' },
    ],
  }),
  'edge-unknown-host': resolved({
    hosts: { 'db-1': host('stable'), 'app-1': host('stable') },
    channels: { stable: channel('all') },
    edges: [
      { gated: 'app-9', gates: 'db-1' },
      { gated: 'app-1', gates: 'db-0' },
    ],
  }),
  'freshness-below-2x': resolved({
    hosts: { 'web-1': host('slow') },
    channels: {
      slow: channel('all', { signingIntervalMinutes: 720, freshnessWindow: 1439 }),
      ok: channel('all', { freshnessWindow: 120 }),
    },
  }),
  'many-violations': resolved({
    hosts: { a: host('stable'), b: host('beta') },
    channels: { stable: channel('canary', { freshnessWindow: 60 }) },
    rolloutPolicies: {},
    edges: [{ gated: 'a', gates: 'z' }],
  }),
  'unknown-channel': resolved({
    hosts: { 'web-1': host('stable'), 'web-2': host('stabel') },
    channels: { stable: channel('all') },
  }),
  'unknown-policy': resolved({
    hosts: { 'web-1': host('stable') },
    channels: { stable: channel('canary') },
  }),
}

describe('what mkFleet accepts passes', () => {
  const fixtures = readdirSync(join(MK_FLEET, 'fixtures')).filter((f) =>
    f.endsWith('.resolved.json')
  )

  test('there are golden fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(12)
  })

  for (const file of fixtures) {
    test(file, () => {
      expect(problemsOf(readJson(join(MK_FLEET, 'fixtures', file)))).toEqual([])
    })
  }

  test('the builder of this file makes a valid fleet', () => {
    const fleet = resolved({
      hosts: { 'web-1': host('stable') },
      channels: { stable: channel('all') },
    })
    expect(problemsOf(fleet)).toEqual([])
  })
})

describe('what mkFleet refuses is refused with its message', () => {
  for (const [name, fleet] of Object.entries(NEGATIVE)) {
    test(name, () => {
      const expected = mkFleetErrors(name)
      expect(expected.length).toBeGreaterThan(0)
      const r = checkFleet(fleet)
      expect(r.ok).toBe(false)
      if (r.ok) return
      expect(r.title).toBe('fleet invariant violations')
      expect(r.violations).toEqual(expected)
    })
  }
})

describe('keys and types', () => {
  const base = () => readJson(FIXTURE_FLEET)

  test('an unknown key at the top names it and the key meant', () => {
    const fleet = base()
    fleet.disruptionBudget = fleet.disruptionBudgets
    delete fleet.disruptionBudgets
    expect(problemsOf(fleet)).toEqual([
      'disruptionBudget: no such key (did you mean disruptionBudgets?)',
    ])
  })

  test('unknown keys at every level are each named with their path', () => {
    const fleet = base()
    fleet.channels.stable.rolloutPolicys = 'canary'
    fleet.disruptionBudgets[0].selector.tagz = ['web']
    fleet.rolloutPolicies.canary.healthGate.systemdFailedUnit = { max: 0 }
    fleet.rolloutPolicies.canary.waves[0].soak = 5
    fleet.hosts['web-01'].pin = { commit: 'a'.repeat(40), reason: 'r', expires: null }
    fleet.meta.signed = null
    fleet.frobnicate = 1
    expect(problemsOf(fleet)).toEqual([
      'frobnicate: no such key (the keys here are: channelEdges, channels, disruptionBudgets, edges, hosts, meta, rolloutPolicies, schemaVersion, waves)',
      'hosts.web-01.pin.expires: no such key (did you mean expiresAt?)',
      'channels.stable.rolloutPolicys: no such key (did you mean rolloutPolicy?)',
      'rolloutPolicies.canary.waves[0].soak: no such key (did you mean soakMinutes?)',
      'rolloutPolicies.canary.healthGate.systemdFailedUnit: no such key (did you mean systemdFailedUnits?)',
      'disruptionBudgets[0].selector.tagz: no such key (did you mean tags?)',
      'meta.signed: no such key (did you mean signedAt?)',
    ])
  })

  test('healthGate.deferredCountsAsDone is known and must be a boolean; a misspelling is named', () => {
    const fleet = base()
    fleet.rolloutPolicies.canary.healthGate.deferredCountsAsDone = true
    expect(problemsOf(fleet)).toEqual([])
    fleet.rolloutPolicies.canary.healthGate.deferredCountsAsDone = 'yes'
    expect(problemsOf(fleet)).toHaveLength(1)
    expect(problemsOf(fleet)[0]).toStartWith(
      'rolloutPolicies.canary.healthGate.deferredCountsAsDone'
    )
    delete fleet.rolloutPolicies.canary.healthGate.deferredCountsAsDone
    fleet.rolloutPolicies.canary.healthGate.deferedCountsAsDone = true
    expect(problemsOf(fleet)).toEqual([
      'rolloutPolicies.canary.healthGate.deferedCountsAsDone: no such key (did you mean deferredCountsAsDone?)',
    ])
  })

  test('wrong types, missing fields and bad names are reported at their paths, all at once', () => {
    const fleet = base()
    fleet.hosts['web-01'].tags = 'web'
    delete fleet.hosts['web-02'].channel
    fleet.hosts['db 01'] = fleet.hosts['db-01']
    delete fleet.hosts['db-01']
    fleet.channels.stable.freshnessWindow = '180'
    fleet.channels.stable.compliance = { mode: 'enforce', frameworks: [], strict: true }
    fleet.channels.edge.compliance = { mode: 'audit', frameworks: [] }
    fleet.rolloutPolicies.canary.strategy = 'blue-green'
    fleet.rolloutPolicies.canary.waves[0].selector.tags = ['web', 3]
    fleet.rolloutPolicies.canary.waves[1].selector.not = { hosts: 'web-01' }
    fleet.disruptionBudgets[0].maxInFlight = '1'
    fleet.edges = {}
    const r = checkFleet(fleet)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.title).toBe('invalid fleet definition')
    expect(r.violations).toEqual([
      'hosts.web-02.channel: required, but not set',
      'hosts.web-01.tags: expected a list, got the string "web"',
      'hosts."db 01": not a valid name: expected a hostname ([A-Za-z0-9][A-Za-z0-9._-]*, at most 253 chars)',
      'channels.stable.freshnessWindow: expected a number, got the string "180"',
      'channels.stable.compliance.strict: no such key (the keys here are: frameworks, mode)',
      'channels.edge.compliance.mode: expected one of "disabled", "permissive", "enforce", got the string "audit"',
      'rolloutPolicies.canary.strategy: expected one of "canary", "all-at-once", "staged", got the string "blue-green"',
      'rolloutPolicies.canary.waves[0].selector.tags[1]: expected a string, got the number 3',
      'rolloutPolicies.canary.waves[1].selector.not.hosts: expected a list, got the string "web-01"',
      'edges: expected a list, got an object',
      'disruptionBudgets[0].maxInFlight: expected a number, got the string "1"',
    ])
  })

  test('a fleet that is not an object is one problem', () => {
    expect(problemsOf([])).toEqual(['expected an object, got a list'])
    expect(problemsOf(null)).toEqual(['expected an object, got null'])
  })

  test('types are checked before invariants: a fleet with both reports the types only', () => {
    const fleet = base()
    fleet.channels.stable.rolloutPolicy = 'missing'
    fleet.hosts['web-01'].tags = 'web'
    expect(problemsOf(fleet)).toEqual(['hosts.web-01.tags: expected a list, got the string "web"'])
  })

  test('what mkFleet emits passes: and/not, compliance, null pin expiry', () => {
    const fleet = base()
    fleet.rolloutPolicies.canary.waves[0].selector = selector({
      and: [selector({ tags: ['web'] }), selector({ not: selector({ hosts: ['web-02'] }) })],
    })
    fleet.channels.edge.compliance = { mode: 'permissive', frameworks: ['nis2'] }
    fleet.hosts['db-01'].pin = { commit: 'a'.repeat(40), reason: 'audit', expiresAt: null }
    expect(problemsOf(fleet)).toEqual([])
  })

  test('selectors are checked at every depth of and/not, and nest 16 deep at most', () => {
    const fleet = base()
    fleet.rolloutPolicies.canary.waves[0].selector = {
      and: [{ tagz: ['x'] }, { not: { hots: [] } }],
    }
    let deep: Json = { all: true }
    for (let i = 0; i < 16; i++) deep = { not: deep }
    fleet.disruptionBudgets[0].selector = deep
    expect(problemsOf(fleet)).toEqual([
      'rolloutPolicies.canary.waves[0].selector.and[0].tagz: no such key (did you mean tags?)',
      'rolloutPolicies.canary.waves[0].selector.and[1].not.hots: no such key (did you mean hosts?)',
      `disruptionBudgets[0].selector${'.not'.repeat(16)}: selectors nest deeper than 16 levels (and/not), got an object`,
    ])
  })

  test('meta and schemaVersion may be left to release, but schemaVersion must be 1', () => {
    const fleet = base()
    delete fleet.meta
    delete fleet.schemaVersion
    expect(problemsOf(fleet)).toEqual([])
    fleet.schemaVersion = 2
    expect(problemsOf(fleet)).toEqual(['schemaVersion: expected 1, got the number 2'])
  })

  test('defaults are filled in the checked fleet, as the wire fills them', () => {
    const fleet = base()
    delete fleet.edges
    delete fleet.channelEdges
    fleet.disruptionBudgets = [{ selector: { tags: ['web'] }, maxInFlight: 1 }]
    const r = checkFleet(fleet)
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.fleet.edges).toEqual([])
    expect(r.fleet.channelEdges).toEqual([])
    expect(r.fleet.disruptionBudgets as unknown).toEqual([
      {
        selector: { tags: ['web'], tagsAny: [], hosts: [], channel: null, all: false },
        maxInFlight: 1,
        maxInFlightPct: null,
      },
    ])
  })
})

describe('the older spellings', () => {
  const base = () => readJson(FIXTURE_FLEET)

  test('platform, before/after and a budget hosts list pass on their own', () => {
    const fleet = base()
    fleet.channelEdges = [{ before: 'edge', after: 'stable', reason: null }]
    fleet.disruptionBudgets = [{ hosts: ['web-01'], maxInFlight: 1, maxInFlightPct: null }]
    expect(problemsOf(fleet)).toEqual([])
  })

  test('both spellings at once, or neither, are refused', () => {
    const fleet = base()
    fleet.hosts['web-01'].system = 'x86_64-linux'
    delete fleet.hosts['web-02'].platform
    fleet.disruptionBudgets.push({ selector: selector(), hosts: ['web-01'], maxInFlight: 1 })
    fleet.disruptionBudgets.push({ maxInFlight: 1 })
    expect(problemsOf(fleet)).toEqual([
      "host 'web-01' sets both `system` and `platform` - pick one",
      "host 'web-02' must set `system` (or `platform`)",
      'disruptionBudgets[1] sets both `selector` and `hosts` - pick one (canonical: `selector`)',
      'disruptionBudgets[2] must set `selector` (or legacy `hosts`)',
    ])
  })

  test('waves must name declared channels and hosts', () => {
    const fleet = base()
    fleet.waves.stabel = []
    fleet.waves.stable[1].hosts.push('web-99')
    expect(problemsOf(fleet)).toEqual([
      "waves references unknown channel 'stabel'",
      "waves.stable[1] references unknown host 'web-99'",
    ])
  })
})

describe('formatFleetProblems', () => {
  test('one problem is one line; several are a title and one line each', () => {
    expect(formatFleetProblems({ title: 't', violations: ['a: b'] })).toBe('a: b')
    expect(
      formatFleetProblems({ title: 'fleet invariant violations', violations: ['a', 'b'] })
    ).toBe('fleet invariant violations:\n  - a\n  - b')
  })
})
