import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { HOST_PHASES, type HostPhase } from '../host/state.ts'
import { isClosed, ROLLOUT_PHASES } from '../rollout/state.ts'
import type { DisruptionBudget, ManifestSet, QuarantineSet, Selector } from '../types.ts'
import { budgetLimit } from './budgets.ts'
import { closureOf, opened, world, type ChannelSpec } from './fixtures.ts'
import { planNext } from './plan-next.ts'
import type { FleetState, PlanAction, RolloutView } from './types.ts'

const CHANNELS = ['alpha', 'beta', 'gamma']
const SELECTORS: Selector[] = [
  { all: true, tags: [], tagsAny: [], hosts: [], channel: null },
  { all: false, tags: ['db'], tagsAny: [], hosts: [], channel: null },
  { all: false, tags: [], tagsAny: [], hosts: [], channel: 'alpha' },
]

type Random = {
  manifests: ManifestSet
  state: FleetState
  quarantines: QuarantineSet
}

/** A random fleet: channels, waves, budgets, edges, rollout and host states, quarantines. */
const randomArb: fc.Arbitrary<Random> = fc
  .record({
    hostCount: fc.integer({ min: 1, max: 24 }),
    channelOf: fc.array(fc.nat(2), { minLength: 24, maxLength: 24 }),
    waveCount: fc.array(fc.nat(3), { minLength: 3, maxLength: 3 }),
    waveOf: fc.array(fc.integer({ min: -1, max: 3 }), { minLength: 24, maxLength: 24 }),
    budgets: fc.array(
      fc.record({
        sel: fc.nat(2),
        members: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
        max: fc.option(fc.nat(3), { nil: null }),
        pct: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }),
      }),
      { maxLength: 3 }
    ),
    edges: fc.array(fc.tuple(fc.nat(23), fc.nat(23)), { maxLength: 6 }),
    channelEdges: fc.array(fc.tuple(fc.nat(2), fc.nat(2)), { maxLength: 2 }),
    phases: fc.array(fc.constantFrom<HostPhase>(...HOST_PHASES, 'Pending', 'Pending'), {
      minLength: 24,
      maxLength: 24,
    }),
    acked: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    rollouts: fc.array(
      fc.record({
        unopened: fc.boolean(),
        phase: fc.constantFrom(...ROLLOUT_PHASES, 'Active', 'Active'),
        currentWave: fc.nat(3),
        halted: fc.boolean(),
      }),
      { minLength: 3, maxLength: 3 }
    ),
    quarantined: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    failures: fc.array(fc.nat(2), { minLength: 24, maxLength: 24 }),
  })
  .map((r) => {
    const hosts = Array.from({ length: r.hostCount }, (_, i) => `h${String(i).padStart(2, '0')}`)
    const channelOfHost = (i: number) => CHANNELS[r.channelOf[i]! % CHANNELS.length]!
    const budgets: DisruptionBudget[] = r.budgets.map((b) => ({
      selector: SELECTORS[b.sel]!,
      hosts: hosts.filter((_, i) => b.members[i]),
      maxInFlight: b.max,
      maxInFlightPct: b.pct,
    }))
    const specs: Record<string, ChannelSpec> = {}
    CHANNELS.forEach((channel, c) => {
      const mine = hosts.map((h, i) => ({ h, i })).filter(({ i }) => channelOfHost(i) === channel)
      if (mine.length === 0) return
      const n = r.waveCount[c]!
      const waves: string[][] = Array.from({ length: n }, () => [])
      const unstaged: string[] = []
      for (const { h, i } of mine) {
        const w = r.waveOf[i]!
        if (n === 0 || w < 0) unstaged.push(h)
        else waves[w % n]!.push(h)
      }
      specs[channel] = n === 0 ? { unstaged, budgets } : { waves, unstaged, budgets }
    })
    const manifests = world(specs, {
      edges: r.edges
        .filter(([a, b]) => a < hosts.length && b < hosts.length && a !== b)
        .map(([a, b]) => ({ gated: hosts[a]!, gates: hosts[b]!, reason: null })),
      channelEdges: r.channelEdges
        .filter(([a, b]) => a !== b)
        .map(([a, b]) => ({ gates: CHANNELS[a]!, gated: CHANNELS[b]!, reason: null })),
    })
    const rolloutOverrides: Record<string, Partial<RolloutView>> = {}
    const unopened: string[] = []
    CHANNELS.forEach((channel, c) => {
      const ro = r.rollouts[c]!
      if (ro.unopened) unopened.push(channel)
      rolloutOverrides[channel] = {
        phase: ro.phase,
        currentWave: ro.currentWave,
        halt: ro.halted ? { at: 1, hostname: 'hX', hostPhase: 'Failed' } : null,
      }
    })
    const phases = Object.fromEntries(hosts.map((h, i) => [h, r.phases[i]!]))
    const acked = hosts.filter((_, i) => r.acked[i])
    const base = opened(manifests, { phases, acked, rollouts: rolloutOverrides, unopened })
    const failures: Record<string, Record<string, number>> = {}
    for (const id of Object.keys(base.rollouts)) {
      failures[id] = Object.fromEntries(hosts.map((h, i) => [h, r.failures[i]!]))
    }
    const state: FleetState = { ...base, outstandingEnforceFailures: failures }
    const quarantines: QuarantineSet = Object.fromEntries(
      CHANNELS.map((c) => [c, hosts.filter((_, i) => r.quarantined[i]).map((h) => closureOf(h))])
    )
    return { manifests, state, quarantines }
  })

const RUNS = { numRuns: 400 }
const queued = (actions: readonly PlanAction[]) =>
  actions.flatMap((a) => (a.type === 'QueueDispatch' ? [a] : []))
const ridOf = (ms: ManifestSet, channel: string) => `${channel}@${ms.rollouts[channel]!.channelRef}`

function gatingWave(ms: ManifestSet, channel: string, host: string): number | undefined {
  const i = (ms.fleet.waves[channel] ?? []).findIndex((w) => w.hosts.includes(host))
  return i < 0 ? undefined : i
}

describe('planNext properties', () => {
  test('never puts more hosts in flight than any budget allows', () => {
    fc.assert(
      fc.property(randomArb, ({ manifests, state, quarantines }) => {
        const q = new Set(queued(planNext(manifests, state, quarantines, 0)).map((a) => a.hostname))
        // Every manifest carries the same budgets, so each budget has one cap and one host list.
        const any = Object.values(manifests.rollouts)[0]
        for (const b of any?.disruptionBudgets ?? []) {
          const limit = budgetLimit(b)
          if (limit === undefined) continue
          const inFlight = b.hosts.filter((h) =>
            Object.values(state.hosts).some(
              (rs) => rs[h]?.phase === 'Activating' || rs[h]?.phase === 'Soaking'
            )
          )
          const added = b.hosts.filter((h) => q.has(h) && !inFlight.includes(h))
          if (added.length > 0) expect(inFlight.length + added.length).toBeLessThanOrEqual(limit)
        }
      }),
      RUNS
    )
  })

  test('a halted rollout never gets a QueueDispatch', () => {
    fc.assert(
      fc.property(randomArb, ({ manifests, state, quarantines }) => {
        for (const a of queued(planNext(manifests, state, quarantines, 0))) {
          expect(state.rollouts[a.rolloutId]?.halt).toBeNull()
        }
      }),
      RUNS
    )
  })

  test('a host whose wave is above the (advanced) current wave is never dispatched', () => {
    fc.assert(
      fc.property(randomArb, ({ manifests, state, quarantines }) => {
        const actions = planNext(manifests, state, quarantines, 0)
        for (const a of queued(actions)) {
          const advanced = actions.find(
            (x) => x.type === 'AdvanceWave' && x.rolloutId === a.rolloutId
          )
          const current =
            advanced?.type === 'AdvanceWave'
              ? advanced.toWave
              : state.rollouts[a.rolloutId]!.currentWave
          const staged = (manifests.fleet.waves[a.channel] ?? []).length > 0
          const wave = gatingWave(manifests, a.channel, a.hostname)
          if (staged) expect(wave).toBeDefined()
          expect(wave ?? 0).toBeLessThanOrEqual(current)
        }
      }),
      RUNS
    )
  })

  test('the wave cursor only moves forward, past done waves, and never while halted', () => {
    fc.assert(
      fc.property(randomArb, ({ manifests, state, quarantines }) => {
        for (const a of planNext(manifests, state, quarantines, 0)) {
          if (a.type !== 'AdvanceWave') continue
          const rollout = state.rollouts[a.rolloutId]!
          expect(rollout.halt).toBeNull()
          expect(a.fromWave).toBe(rollout.currentWave)
          expect(a.toWave).toBeGreaterThan(a.fromWave)
          const m = manifests.rollouts[rollout.channel]!
          for (const e of m.hostSet) {
            const w = gatingWave(manifests, rollout.channel, e.hostname)
            if (w === undefined || w < a.fromWave || w >= a.toWave) continue
            // The random manifests do not opt in to healthGate.deferredCountsAsDone.
            expect(state.hosts[a.rolloutId]?.[e.hostname]?.phase).toBe('Converged')
          }
        }
      }),
      RUNS
    )
  })

  test('queued hosts pass quarantine, channel edges and host edges', () => {
    fc.assert(
      fc.property(randomArb, ({ manifests, state, quarantines }) => {
        for (const a of queued(planNext(manifests, state, quarantines, 0))) {
          expect(quarantines[a.channel] ?? []).not.toContain(a.targetClosure)
          for (const e of manifests.fleet.channelEdges.filter((x) => x.gated === a.channel)) {
            if (manifests.rollouts[e.gates] === undefined) continue
            const pred = state.rollouts[ridOf(manifests, e.gates)]
            expect(pred?.phase).toBeOneOf(['Terminal', 'Superseded', 'Pruned', 'Cancelled'])
          }
          for (const e of manifests.fleet.edges.filter((x) => x.gated === a.hostname)) {
            if (manifests.fleet.hosts[e.gates]?.channel !== a.channel) continue
            expect(state.hosts[a.rolloutId]?.[e.gates]?.phase).toBe('Converged')
          }
        }
      }),
      RUNS
    )
  })

  test('every candidate gets exactly one decision; unopened channels get OpenRollout', () => {
    fc.assert(
      fc.property(randomArb, ({ manifests, state, quarantines }) => {
        const actions = planNext(manifests, state, quarantines, 0)
        const decided = actions.flatMap((a) =>
          a.type === 'QueueDispatch' || a.type === 'DeferDispatch'
            ? [`${a.rolloutId}/${a.hostname}`]
            : []
        )
        const expected: string[] = []
        const opens: string[] = []
        for (const channel of Object.keys(manifests.rollouts)) {
          const id = ridOf(manifests, channel)
          const r = state.rollouts[id]
          if (r === undefined) opens.push(id)
          if (r === undefined || isClosed(r.phase)) continue
          for (const [h, rec] of Object.entries(state.hosts[id] ?? {})) {
            if (rec.phase === 'Pending' && rec.dispatchAckedAt === null) expected.push(`${id}/${h}`)
          }
        }
        expect([...decided].sort()).toEqual(expected.sort())
        expect(new Set(decided).size).toBe(decided.length)
        expect(
          actions
            .filter((a) => a.type === 'OpenRollout')
            .map((a) => a.rolloutId)
            .sort()
        ).toEqual(opens.sort())
      }),
      RUNS
    )
  })

  test('the plan is deterministic and independent of input ordering', () => {
    fc.assert(
      fc.property(randomArb, ({ manifests, state, quarantines }) => {
        const first = planNext(manifests, state, quarantines, 0)
        expect(planNext(manifests, state, quarantines, 123)).toEqual(first)
        const reversed = (o: object) => Object.fromEntries(Object.entries(o).reverse())
        const shuffledManifests: ManifestSet = {
          fleet: manifests.fleet,
          rollouts: Object.fromEntries(
            Object.entries(manifests.rollouts)
              .reverse()
              .map(([c, m]) => [c, { ...m, hostSet: [...m.hostSet].reverse() }])
          ),
        }
        const shuffledState: FleetState = {
          ...state,
          rollouts: reversed(state.rollouts),
          hosts: Object.fromEntries(
            Object.entries(state.hosts).map(([id, rs]) => [id, reversed(rs)])
          ),
        }
        expect(planNext(shuffledManifests, shuffledState, quarantines, 0)).toEqual(first)
      }),
      RUNS
    )
  })

  test('the random fleets exercise every gate and the queue (the generator is not vacuous)', () => {
    const seen = new Set<string>()
    fc.assert(
      fc.property(randomArb, ({ manifests, state, quarantines }) => {
        for (const a of planNext(manifests, state, quarantines, 0)) {
          seen.add(a.type === 'DeferDispatch' ? a.gate : a.type)
        }
      }),
      { numRuns: 400, seed: 12 }
    )
    expect([...seen].sort()).toEqual(
      [
        'AdvanceWave',
        'OpenRollout',
        'QueueDispatch',
        'channel-edges',
        'compliance-wave',
        'disruption-budget',
        'halted',
        'host-edge',
        'quarantine',
        'wave-promotion',
        'wave-promotion-host-unstaged',
      ].sort()
    )
  })
})
