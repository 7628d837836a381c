/**
 * Tests of `planNext`: opening rollouts, wave promotion, gates in order and their sentences.
 * Over 400 lines: the cases share one fleet built from a real release, kept in one file.
 */
import { describe, expect, test } from 'bun:test'
import * as v from 'valibot'
import { FleetResolvedSchema } from '../../proto/fleet.ts'
import type { ChannelName } from '../../proto/ids.ts'
import { normalizeRolloutPolicies, projectRolloutManifest } from '../release/projection.ts'
import type { ManifestSet, Selector } from '../types.ts'
import { budget, closureOf, deferredCountsAsDone, opened, world } from './fixtures.ts'
import { planNext } from './plan-next.ts'
import type { PlanAction } from './types.ts'

const NOW = 1_000

const queue = (hostname: string, channel = 'stable', ref = 'r1', waveIndex = 0): PlanAction => ({
  type: 'QueueDispatch',
  rolloutId: `${channel}@${ref}`,
  hostname,
  channel,
  targetClosure: closureOf(hostname, ref),
  waveIndex,
})
const kinds = (actions: readonly PlanAction[]): string[] =>
  actions.map((a) => ('hostname' in a ? `${a.type}:${a.hostname}` : `${a.type}:${a.rolloutId}`))

describe('planNext (spec §8.4)', () => {
  test('queues a dispatch for a Pending host when no gate blocks', () => {
    const ms = world({ stable: { waves: [['web-01']] } })
    expect(planNext(ms, opened(ms), {}, NOW)).toEqual([queue('web-01')])
  })

  test('defers a dispatch when the closure is quarantined', () => {
    const ms = world({ stable: { waves: [['web-01']] } })
    const actions = planNext(ms, opened(ms), { stable: [closureOf('web-01')] }, NOW)
    expect(actions).toEqual([
      {
        type: 'DeferDispatch',
        rolloutId: 'stable@r1',
        hostname: 'web-01',
        gate: 'quarantine',
        reason: `closure ${closureOf('web-01')} is quarantined on channel 'stable' (a host rolled back from it); push a new closure to clear`,
      },
    ])
  })

  test('skips acknowledged and already-moving hosts', () => {
    const ms = world({ stable: { waves: [['a', 'b', 'c', 'd']] } })
    const state = opened(ms, { acked: ['a'], phases: { b: 'Activating', c: 'Converged' } })
    expect(planNext(ms, state, {}, NOW)).toEqual([queue('d')])
  })

  test('opens the rollout of an unopened channel (id "stable@r1") and dispatches nothing yet', () => {
    const ms = world({ stable: { waves: [['web-01']] } })
    expect(planNext(ms, { rollouts: {}, hosts: {} }, {}, NOW)).toEqual([
      { type: 'OpenRollout', rolloutId: 'stable@r1', channel: 'stable', targetRef: 'r1' },
    ])
  })

  test('a moved channel ref opens a new rollout; the old one is no longer planned', () => {
    const ms = world({ stable: { waves: [['web-01']], ref: 'r2' } })
    const old = opened(world({ stable: { waves: [['web-01']], ref: 'r1' } }))
    expect(planNext(ms, old, {}, NOW)).toEqual([
      { type: 'OpenRollout', rolloutId: 'stable@r2', channel: 'stable', targetRef: 'r2' },
    ])
  })

  test('closed rollouts (Terminal, Superseded) dispatch nothing', () => {
    const ms = world({ stable: { waves: [['a']] } })
    for (const phase of ['Terminal', 'Superseded', 'Pruned'] as const) {
      expect(planNext(ms, opened(ms, { rollouts: { stable: { phase } } }), {}, NOW)).toEqual([])
    }
  })

  test('two channels sharing a channel ref get distinct rollouts', () => {
    const ms = world({
      stable: { waves: [['s1']], ref: 'deadbeef' },
      edge: { waves: [['e1']], ref: 'deadbeef' },
    })
    expect(planNext(ms, { rollouts: {}, hosts: {} }, {}, NOW)).toEqual([
      { type: 'OpenRollout', rolloutId: 'edge@deadbeef', channel: 'edge', targetRef: 'deadbeef' },
      {
        type: 'OpenRollout',
        rolloutId: 'stable@deadbeef',
        channel: 'stable',
        targetRef: 'deadbeef',
      },
    ])
    expect(planNext(ms, opened(ms), {}, NOW)).toEqual([
      queue('e1', 'edge', 'deadbeef'),
      queue('s1', 'stable', 'deadbeef'),
    ])
  })
})

describe('waves', () => {
  const ms = world({ stable: { waves: [['h1'], ['h2'], [], ['h4']] } })

  test('wave-1 hosts do not dispatch while wave-0 hosts are Pending', () => {
    const actions = planNext(ms, opened(ms), {}, NOW)
    expect(actions).toEqual([
      queue('h1'),
      {
        type: 'DeferDispatch',
        rolloutId: 'stable@r1',
        hostname: 'h2',
        gate: 'wave-promotion',
        reason: 'wave 1 waits: wave 0 still pending (h1)',
      },
      {
        type: 'DeferDispatch',
        rolloutId: 'stable@r1',
        hostname: 'h4',
        gate: 'wave-promotion',
        reason: 'wave 3 waits: wave 0 still pending (h1)',
      },
    ])
  })

  test('the wave advances when every wave-0 host converges, and wave 1 dispatches', () => {
    const actions = planNext(ms, opened(ms, { phases: { h1: 'Converged' } }), {}, NOW)
    expect(kinds(actions)).toEqual([
      'AdvanceWave:stable@r1',
      'QueueDispatch:h2',
      'DeferDispatch:h4',
    ])
    expect(actions[0]).toEqual({
      type: 'AdvanceWave',
      rolloutId: 'stable@r1',
      fromWave: 0,
      toWave: 1,
    })
    expect(actions[1]).toEqual(queue('h2', 'stable', 'r1', 1))
  })

  test('a Deferred host holds its wave: wave 1 waits for it to reboot into its target', () => {
    const actions = planNext(ms, opened(ms, { phases: { h1: 'Deferred' } }), {}, NOW)
    expect(actions.some((a) => a.type === 'AdvanceWave')).toBe(false)
    expect(actions.find((a) => a.type === 'DeferDispatch' && a.hostname === 'h2')).toMatchObject({
      gate: 'wave-promotion',
      reason: 'wave 1 waits: h1 waiting for reboot',
    })
  })

  test('with healthGate.deferredCountsAsDone, Deferred hosts count as done for wave advancement', () => {
    const optIn = deferredCountsAsDone(ms, 'stable')
    const actions = planNext(optIn, opened(optIn, { phases: { h1: 'Deferred' } }), {}, NOW)
    expect(actions[0]).toMatchObject({ type: 'AdvanceWave', toWave: 1 })
  })

  test('empty waves are skipped in the same pass', () => {
    const state = opened(ms, {
      phases: { h1: 'Converged', h2: 'Converged' },
      rollouts: { stable: { currentWave: 1 } },
    })
    const actions = planNext(ms, state, {}, NOW)
    expect(actions).toEqual([
      { type: 'AdvanceWave', rolloutId: 'stable@r1', fromWave: 1, toWave: 3 },
      queue('h4', 'stable', 'r1', 3),
    ])
  })

  test('a Soaking, Failed or missing wave host keeps the cursor where it is', () => {
    for (const phase of ['Soaking', 'Activating', 'Failed', 'Reverted'] as const) {
      const actions = planNext(ms, opened(ms, { phases: { h1: phase } }), {}, NOW)
      expect(actions.some((a) => a.type === 'AdvanceWave')).toBe(false)
    }
  })
})

describe('halt means halt (DECISIONS §3.4)', () => {
  const ms = world({ stable: { waves: [['h1', 'h2', 'h3'], ['h4']] } })
  const halt = { at: 5, hostname: 'h1', hostPhase: 'Failed' as const }

  test('a halted rollout dispatches no host in any wave, and its cursor stays put', () => {
    const state = opened(ms, {
      phases: { h1: 'Failed', h2: 'Converged', h3: 'Converged' },
      rollouts: { stable: { phase: 'Failed', halt } },
    })
    const actions = planNext(ms, state, {}, NOW)
    expect(actions).toEqual([
      {
        type: 'DeferDispatch',
        rolloutId: 'stable@r1',
        hostname: 'h4',
        gate: 'halted',
        reason: 'rollout stable@r1 halted: h1 Failed; resume it or release a fix',
      },
    ])
  })

  test('the same-wave Pending hosts of a halted rollout are held too (fixes spec §9.5)', () => {
    const state = opened(ms, {
      phases: { h1: 'Failed' },
      rollouts: { stable: { phase: 'Failed', halt } },
    })
    const actions = planNext(ms, state, {}, NOW)
    expect(actions.filter((a) => a.type === 'QueueDispatch')).toEqual([])
    expect(kinds(actions)).toEqual(['DeferDispatch:h2', 'DeferDispatch:h3', 'DeferDispatch:h4'])
  })

  test('after an operator resume the rollout dispatches its current wave again', () => {
    const state = opened(ms, {
      phases: { h1: 'Failed' },
      rollouts: { stable: { phase: 'Failed', halt: null } },
    })
    expect(kinds(planNext(ms, state, {}, NOW))).toEqual([
      'QueueDispatch:h2',
      'QueueDispatch:h3',
      'DeferDispatch:h4',
    ])
  })
})

describe('disruption budgets', () => {
  test('the within-tick accumulator prevents over-commit (3 hosts, max 1)', () => {
    const hosts = ['h1', 'h2', 'h3']
    const ms = world({ stable: { waves: [hosts], budgets: [budget(hosts, 1)] } })
    const actions = planNext(ms, opened(ms), {}, NOW)
    const full = "budget 'all' full: 1/1 in flight"
    expect(actions).toEqual([
      queue('h1'),
      {
        type: 'DeferDispatch',
        rolloutId: 'stable@r1',
        hostname: 'h2',
        gate: 'disruption-budget',
        reason: full,
      },
      {
        type: 'DeferDispatch',
        rolloutId: 'stable@r1',
        hostname: 'h3',
        gate: 'disruption-budget',
        reason: full,
      },
    ])
  })

  test('a budget of 1 always picks the same canary, whatever the input order', () => {
    const hosts = ['web-03', 'web-01', 'db-02', 'web-02']
    const a = world({ stable: { waves: [hosts], budgets: [budget(hosts, 1)] } })
    const b = world({
      stable: { waves: [hosts], budgets: [budget(hosts, 1)], hostOrder: [...hosts].reverse() },
    })
    const queued = (ms: typeof a): PlanAction[] =>
      planNext(ms, opened(ms), {}, NOW).filter((x) => x.type === 'QueueDispatch')
    expect(queued(a)).toEqual([queue('db-02')])
    expect(queued(b)).toEqual(queued(a))
  })

  test('candidates are visited by wave first, then hostname', () => {
    const ms = world({ stable: { waves: [['zz'], ['aa']], budgets: [budget(['aa', 'zz'], 5)] } })
    const state = opened(ms, { rollouts: { stable: { currentWave: 1 } } })
    expect(kinds(planNext(ms, state, {}, NOW))).toEqual(['QueueDispatch:zz', 'QueueDispatch:aa'])
  })

  test('channel-edge cascade with a shared budget: the predecessor dispatches on the first tick (D-008)', () => {
    const all = ['h1', 'h2']
    const ms = world(
      {
        stable: { waves: [['h1']], budgets: [budget(all, 1)] },
        edge: { waves: [['h2']], budgets: [budget(all, 1)] },
      },
      { channelEdges: [{ gates: 'stable', gated: 'edge', reason: null }] }
    )
    const actions = planNext(ms, opened(ms), {}, NOW)
    expect(actions).toEqual([
      queue('h1'),
      {
        type: 'DeferDispatch',
        rolloutId: 'edge@r1',
        hostname: 'h2',
        gate: 'channel-edges',
        reason:
          "channel 'edge' waits: channel 'stable' rollout stable@r1 Active, not yet converged",
      },
    ])
  })

  test('the accumulator is shared across rollouts with equal selectors', () => {
    const all = ['a1', 'b1']
    const ms = world({
      alpha: { waves: [['a1']], budgets: [budget(all, 1)] },
      beta: { waves: [['b1']], budgets: [budget(all, 1)] },
    })
    expect(kinds(planNext(ms, opened(ms), {}, NOW))).toEqual([
      'QueueDispatch:a1',
      'DeferDispatch:b1',
    ])
  })

  test('hosts of older rollouts still in flight count when their budgets are supplied', () => {
    const hosts = ['h1', 'h2']
    const ms = world({ stable: { waves: [hosts], budgets: [budget(hosts, 1)], ref: 'r2' } })
    const state = opened(ms)
    const withOld = {
      rollouts: {
        ...state.rollouts,
        'stable@r1': {
          rolloutId: 'stable@r1',
          channel: 'stable',
          phase: 'Superseded' as const,
          currentWave: 0,
          halt: null,
        },
      },
      hosts: {
        ...state.hosts,
        'stable@r1': {
          h2: { hostname: 'h2', phase: 'Soaking' as const, targetClosure: 'x', dispatchAckedAt: 1 },
        },
      },
      budgets: { 'stable@r1': [budget(hosts, 1)] },
    }
    expect(kinds(planNext(ms, withOld, {}, NOW))).toEqual(['DeferDispatch:h1', 'DeferDispatch:h2'])
    expect(kinds(planNext(ms, { ...withOld, budgets: {} }, {}, NOW))).toEqual([
      'QueueDispatch:h1',
      'DeferDispatch:h2',
    ])
  })

  test('a budget whose selector uses only and/not caps the hosts it means (fleet → manifest → plan)', () => {
    // mkFleet's wire form: every selector carries and/not; the plain fields are all empty.
    const none = { tags: [], tagsAny: [], hosts: [], channel: null, all: false, and: [], not: null }
    const host = (name: string, tags: string[]) => ({
      system: 'x86_64-linux',
      tags,
      channel: 'stable',
      closureHash: closureOf(name),
      pubkey: null,
    })
    const fleet = v.parse(FleetResolvedSchema, {
      schemaVersion: 1,
      hosts: {
        'db-1': host('db-1', ['db']),
        'db-2': host('db-2', ['db', 'x']),
        'db-3': host('db-3', ['db', 'canary']),
        'web-1': host('web-1', ['web']),
      },
      channels: {
        stable: {
          rolloutPolicy: 'p',
          reconcileIntervalMinutes: 30,
          freshnessWindow: 120,
          signingIntervalMinutes: 60,
        },
      },
      rolloutPolicies: { p: { strategy: 'all-at-once', waves: [], onHealthFailure: 'halt' } },
      waves: { stable: [] },
      disruptionBudgets: [
        {
          // db hosts that are not canaries: db-1, db-2
          selector: {
            ...none,
            and: [
              { ...none, tags: ['db'] },
              { ...none, not: { ...none, tags: ['canary'] } },
            ],
          },
          maxInFlight: 1,
          maxInFlightPct: null,
        },
      ],
      meta: { schemaVersion: 1, signedAt: '2026-05-01T12:00:00Z', ciCommit: 'r1' },
    })
    const manifest = projectRolloutManifest(
      fleet,
      'a'.repeat(64),
      'stable' as ChannelName,
      'ed25519'
    )
    expect(manifest?.disruptionBudgets.map((b): string[] => b.hosts)).toEqual([['db-1', 'db-2']])
    const ms: ManifestSet = {
      fleet: normalizeRolloutPolicies(fleet),
      rollouts: { stable: manifest! },
    }
    expect(planNext(ms, opened(ms, { phases: { 'db-1': 'Activating' } }), {}, NOW)).toEqual([
      {
        type: 'DeferDispatch',
        rolloutId: 'stable@r1',
        hostname: 'db-2',
        gate: 'disruption-budget',
        reason: "budget 'and(tags:db,not(tags:canary))' full: 1/1 in flight",
      },
      queue('db-3'),
      queue('web-1'),
    ])
  })

  test('budgets differing only in and/not are different budgets (separate in-flight counts)', () => {
    const none = { tags: [], tagsAny: [], hosts: [], channel: null, all: false }
    const notA: Selector = { ...none, not: { ...none, tags: ['a'] } }
    const notB: Selector = { ...none, not: { ...none, tags: ['b'] } }
    const ms = world({
      alpha: { waves: [['a1', 'a2']], budgets: [budget(['a1', 'a2'], 1, null, notB)] },
      beta: { waves: [['b1', 'b2']], budgets: [budget(['b1', 'b2'], 1, null, notA)] },
    })
    const actions = planNext(ms, opened(ms, { phases: { a1: 'Activating' } }), {}, NOW)
    expect(kinds(actions)).toEqual(['DeferDispatch:a2', 'QueueDispatch:b1', 'DeferDispatch:b2'])
  })

  test('maxInFlight and maxInFlightPct together: the smaller cap wins', () => {
    const hosts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']
    const ms = world({ stable: { waves: [hosts], budgets: [budget(hosts, 5, 20)] } })
    expect(
      planNext(ms, opened(ms), {}, NOW).filter((a) => a.type === 'QueueDispatch')
    ).toHaveLength(2)
  })

  test('the first blocking gate wins', () => {
    const hosts = ['h1']
    const ms = world({ stable: { waves: [hosts], budgets: [budget(hosts, 0)] } })
    const halt = { at: 1, hostname: 'h0', hostPhase: 'Failed' as const }
    const state = opened(ms, { rollouts: { stable: { phase: 'Failed', halt } } })
    const gates = (s: typeof state, q = {}) =>
      planNext(ms, s, q, NOW).map((a) => (a.type === 'DeferDispatch' ? a.gate : a.type))
    expect(gates(state, { stable: [closureOf('h1')] })).toEqual(['halted'])
    expect(gates(opened(ms), { stable: [closureOf('h1')] })).toEqual(['quarantine'])
    expect(gates(opened(ms))).toEqual(['disruption-budget'])
  })
})
