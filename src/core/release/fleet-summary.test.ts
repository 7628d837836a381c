import { describe, expect, test } from 'bun:test'
import { type CheckedFleet, findCycle } from './fleet-rules.ts'
import { summarizeFleet } from './fleet-summary.ts'

const channel = (rolloutPolicy: string) => ({
  rolloutPolicy,
  freshnessWindow: 1440,
  signingIntervalMinutes: 60,
})

const FLEET: CheckedFleet = {
  hosts: {
    'web-02': { channel: 'stable', tags: ['web'], system: 'x86_64-linux' },
    'web-01': { channel: 'stable', tags: ['web', 'canary'], system: 'x86_64-linux' },
    'db-01': { channel: 'stable', tags: ['db'], platform: 'x86_64-linux' },
    cp: { channel: 'infra', tags: [], system: 'x86_64-linux' },
  },
  channels: { stable: channel('canary'), infra: channel('once') },
  rolloutPolicies: { canary: { strategy: 'canary' }, once: { strategy: 'all-at-once' } },
  waves: {
    // As mkFleet resolves `all`: every host of the fleet, whatever its channel.
    stable: [
      { hosts: ['web-01'], soakMinutes: 30 },
      { hosts: ['cp', 'web-01', 'web-02'], soakMinutes: 0 },
    ],
    infra: [],
  },
  edges: [{ gated: 'web-02', gates: 'db-01', reason: 'db first' }],
  channelEdges: [
    { gates: 'stable', gated: 'infra', reason: null },
    { before: 'infra', after: 'stable' },
  ],
  disruptionBudgets: [
    {
      selector: { tags: ['web'], tagsAny: [], hosts: [], channel: null, all: false },
      maxInFlight: 1,
      maxInFlightPct: null,
    },
    { hosts: ['db-01', 'cp'], maxInFlight: null, maxInFlightPct: 50 },
  ],
}

describe('summarizeFleet', () => {
  const s = summarizeFleet(FLEET)

  test('each channel lists its own hosts, sorted, and each wave the hosts it rolls out', () => {
    expect(s.hosts).toBe(4)
    expect(s.channels).toEqual([
      {
        name: 'infra',
        rolloutPolicy: 'once',
        strategy: 'all-at-once',
        freshnessWindow: 1440,
        signingIntervalMinutes: 60,
        hosts: ['cp'],
        waves: [],
        unwaved: ['cp'],
      },
      {
        name: 'stable',
        rolloutPolicy: 'canary',
        strategy: 'canary',
        freshnessWindow: 1440,
        signingIntervalMinutes: 60,
        hosts: ['db-01', 'web-01', 'web-02'],
        // web-01 goes in its first wave only; cp is not on this channel; db-01 is in no wave.
        waves: [
          { soakMinutes: 30, hosts: ['web-01'] },
          { soakMinutes: 0, hosts: ['web-02'] },
        ],
        unwaved: ['db-01'],
      },
    ])
  })

  test('budgets cover every matching host of the fleet; an older hosts list is its selector', () => {
    expect(s.disruptionBudgets).toEqual([
      { selector: 'tags:web', maxInFlight: 1, maxInFlightPct: null, hosts: ['web-01', 'web-02'] },
      { selector: 'hosts:cp,db-01', maxInFlight: null, maxInFlightPct: 50, hosts: ['cp', 'db-01'] },
    ])
  })

  test('edges as given; channel edges in their canonical spelling', () => {
    expect(s.edges).toEqual([{ gated: 'web-02', gates: 'db-01', reason: 'db first' }])
    expect(s.channelEdges).toEqual([
      { gated: 'infra', gates: 'stable', reason: null },
      { gated: 'stable', gates: 'infra', reason: null },
    ])
  })
})

describe('findCycle', () => {
  const arcs = (...pairs: [string, string][]) => pairs.map(([from, to]) => ({ from, to }))

  test('a DAG has none', () => {
    expect(findCycle([])).toBeUndefined()
    expect(findCycle(arcs(['a', 'b'], ['b', 'c'], ['a', 'c']))).toBeUndefined()
  })

  test('the first cycle found, from where it closes, as mkFleet names it', () => {
    expect(findCycle(arcs(['d', 'a'], ['a', 'b'], ['b', 'c'], ['c', 'a']))).toEqual([
      'a',
      'b',
      'c',
      'a',
    ])
    expect(findCycle(arcs(['s', 's']))).toEqual(['s', 's'])
    // A node already explored is not entered twice, and a later cycle is still found.
    expect(findCycle(arcs(['a', 'b'], ['c', 'b'], ['c', 'd'], ['d', 'c']))).toEqual(['c', 'd', 'c'])
  })
})
