import { describe, expect, test } from 'bun:test'
import type { ManifestSet, QuarantineSet } from '../../types.ts'
import { buildBudgetIndex } from '../budget-index.ts'
import { budgetsByRollout, buildPlanContext, buildRolloutPlan, type Gate } from '../context.ts'
import {
  budget,
  closureOf,
  deferredCountsAsDone,
  opened,
  world,
  type OpenedOptions,
} from '../fixtures.ts'
import type { FleetState, GateBlock } from '../types.ts'
import { channelEdgesGate } from './channel-edges.ts'
import { complianceWaveGate } from './compliance-wave.ts'
import { disruptionBudgetGate } from './disruption-budget.ts'
import { haltedGate } from './halted.ts'
import { hostEdgesGate } from './host-edges.ts'
import { quarantineGate } from './quarantine.ts'
import { wavePromotionGate } from './wave-promotion.ts'

/** Runs one gate for `host` of `channel`'s open rollout, as `planNext` would at pass start. */
function judge(
  gate: Gate,
  ms: ManifestSet,
  state: FleetState,
  channel: string,
  host: string,
  quarantines: QuarantineSet = {},
  now = 0
): GateBlock | undefined {
  const m = ms.rollouts[channel]!
  const rollout = state.rollouts[`${channel}@${m.channelRef}`]!
  const budgets = buildBudgetIndex(budgetsByRollout(ms, state), state.hosts)
  const plan = buildRolloutPlan(ms, state, m, rollout, budgets, now)
  const candidate = plan.candidates.find((c) => c.hostname === host)
  if (candidate === undefined) throw new Error(`${host} is not a candidate`)
  return gate(buildPlanContext(ms, state, quarantines, budgets, now), plan, candidate)
}

describe('halted gate (DECISIONS §3.4)', () => {
  const ms = world({ stable: { waves: [['h1'], ['h2']] } })
  test('blocks every host of a halted rollout', () => {
    const halt = { at: 5, hostname: 'h1', hostPhase: 'Failed' as const }
    const state = opened(ms, {
      rollouts: { stable: { phase: 'Failed', halt } },
      phases: { h1: 'Failed' },
    })
    expect(judge(haltedGate, ms, state, 'stable', 'h2')).toEqual({
      gate: 'halted',
      reason: 'rollout stable@r1 halted: h1 Failed; resume it or release a fix',
    })
  })
  test('passes a rollout that is not halted (including a resumed Failed one)', () => {
    expect(judge(haltedGate, ms, opened(ms), 'stable', 'h1')).toBeUndefined()
    const resumed = opened(ms, { rollouts: { stable: { phase: 'Failed', halt: null } } })
    expect(judge(haltedGate, ms, resumed, 'stable', 'h1')).toBeUndefined()
  })
})

describe('quarantine gate', () => {
  const ms = world({ stable: { waves: [['h1']] } })
  test('blocks a quarantined target closure on the channel', () => {
    expect(
      judge(quarantineGate, ms, opened(ms), 'stable', 'h1', { stable: [closureOf('h1')] })
    ).toEqual({
      gate: 'quarantine',
      reason: `closure ${closureOf('h1')} is quarantined on channel 'stable' (a host rolled back from it); push a new closure to clear`,
    })
  })
  test('passes other closures and other channels', () => {
    expect(
      judge(quarantineGate, ms, opened(ms), 'stable', 'h1', { stable: ['other'] })
    ).toBeUndefined()
    expect(
      judge(quarantineGate, ms, opened(ms), 'stable', 'h1', { edge: [closureOf('h1')] })
    ).toBeUndefined()
  })
})

describe('channel-edges gate', () => {
  const ms = world(
    { stable: { waves: [['s1']] }, edge: { waves: [['e1']] } },
    { channelEdges: [{ gates: 'stable', gated: 'edge', reason: 'canary channel first' }] }
  )
  const blockedBy = (state: string): GateBlock => ({
    gate: 'channel-edges',
    reason: `channel 'edge' waits: channel 'stable' rollout stable@r1 ${state} (canary channel first)`,
  })
  test('blocks while the predecessor rollout is active', () => {
    expect(judge(channelEdgesGate, ms, opened(ms), 'edge', 'e1')).toEqual(
      blockedBy('Active, not yet converged')
    )
  })
  test('passes once the predecessor is Terminal (D-020) or Superseded', () => {
    for (const phase of ['Terminal', 'Superseded'] as const) {
      const state = opened(ms, { rollouts: { stable: { phase } } })
      expect(judge(channelEdgesGate, ms, state, 'edge', 'e1')).toBeUndefined()
    }
  })
  test('blocks while the predecessor is Failed, Reverted or halted', () => {
    const halt = { at: 1, hostname: 's1', hostPhase: 'Failed' as const }
    expect(
      judge(
        channelEdgesGate,
        ms,
        opened(ms, { rollouts: { stable: { phase: 'Failed', halt } } }),
        'edge',
        'e1'
      )
    ).toEqual(blockedBy('Failed, halted, not yet converged'))
    expect(
      judge(
        channelEdgesGate,
        ms,
        opened(ms, { rollouts: { stable: { phase: 'Reverted' } } }),
        'edge',
        'e1'
      )?.gate
    ).toBe('channel-edges')
  })
  test('blocks when the predecessor has a manifest but no rollout yet (fresh boot)', () => {
    expect(judge(channelEdgesGate, ms, opened(ms, { unopened: ['stable'] }), 'edge', 'e1')).toEqual(
      blockedBy('not opened yet')
    )
  })
  test('a predecessor with a Deferred host blocks; with the opt-in it passes once every host is Converged or Deferred', () => {
    const state = opened(ms, { phases: { s1: 'Deferred' } })
    expect(judge(channelEdgesGate, ms, state, 'edge', 'e1')).toEqual(
      blockedBy('Active, not yet converged')
    )
    const optIn = deferredCountsAsDone(ms, 'stable')
    expect(
      judge(channelEdgesGate, optIn, opened(optIn, { phases: { s1: 'Deferred' } }), 'edge', 'e1')
    ).toBeUndefined()
    // Not while a host is still on its way, nor while the predecessor is halted.
    for (const phases of [{ s1: 'Soaking' as const }, { s1: 'Pending' as const }]) {
      expect(judge(channelEdgesGate, optIn, opened(optIn, { phases }), 'edge', 'e1')?.gate).toBe(
        'channel-edges'
      )
    }
    const halt = { at: 1, hostname: 's1', hostPhase: 'Failed' as const }
    const halted = opened(optIn, { phases: { s1: 'Deferred' }, rollouts: { stable: { halt } } })
    expect(judge(channelEdgesGate, optIn, halted, 'edge', 'e1')?.gate).toBe('channel-edges')
  })
  test('passes when the predecessor has no manifest', () => {
    const alone: ManifestSet = { ...ms, rollouts: { edge: ms.rollouts['edge']! } }
    expect(judge(channelEdgesGate, alone, opened(alone), 'edge', 'e1')).toBeUndefined()
  })
})

describe('wave-promotion gate', () => {
  const ms = world({ stable: { waves: [['h1', 'h2'], ['h3'], ['h4']], unstaged: ['h9'] } })
  test('blocks a host above the current wave, saying what the current wave waits for', () => {
    const state = opened(ms, { phases: { h1: 'Soaking', h2: 'Converged' } })
    expect(judge(wavePromotionGate, ms, state, 'stable', 'h4')).toEqual({
      gate: 'wave-promotion',
      reason: 'wave 2 waits: wave 0 still soaking (h1)',
    })
    const mixed = opened(ms, { phases: { h1: 'Soaking', h2: 'Activating' } })
    expect(judge(wavePromotionGate, ms, mixed, 'stable', 'h3')?.reason).toBe(
      'wave 1 waits: wave 0 not done (h1 Soaking, h2 Activating)'
    )
  })
  test('passes hosts of the current wave', () => {
    expect(judge(wavePromotionGate, ms, opened(ms), 'stable', 'h1')).toBeUndefined()
    const w1 = opened(ms, { rollouts: { stable: { currentWave: 1 } } })
    expect(judge(wavePromotionGate, ms, w1, 'stable', 'h3')).toBeUndefined()
  })
  test('a Converged host holds its wave until its soak ends on the control plane clock', () => {
    // 12:00:00 UTC on the CP; h1 and h2 converged (the agents say so) but soak until 12:10:00.
    const now = Date.UTC(2026, 0, 1, 12, 0, 0)
    const end = now + 10 * 60_000
    const state: FleetState = {
      ...opened(ms, { phases: { h1: 'Converged', h2: 'Converged' } }),
      soakEndsAt: { 'stable@r1': { h1: end, h2: now } },
    }
    expect(judge(wavePromotionGate, ms, state, 'stable', 'h3', {}, now)).toEqual({
      gate: 'wave-promotion',
      reason: 'wave 1 waits: h1 soak ends 12:10:00, in 10m (control plane clock)',
    })
    expect(judge(wavePromotionGate, ms, state, 'stable', 'h3', {}, end)).toBeUndefined()
  })
  test('a host in no wave is denied (default-deny, D-027)', () => {
    expect(judge(wavePromotionGate, ms, opened(ms), 'stable', 'h9')).toEqual({
      gate: 'wave-promotion-host-unstaged',
      reason: "host h9 is in no wave of channel 'stable' (default-deny); add it to a wave selector",
    })
  })
  test('a channel with empty waves passes silently', () => {
    const flat = world({ stable: { unstaged: ['h1', 'h2'] } })
    expect(judge(wavePromotionGate, flat, opened(flat), 'stable', 'h2')).toBeUndefined()
  })
})

describe('host-edges gate', () => {
  const ms = world(
    { stable: { waves: [['db', 'web']] }, edge: { waves: [['other']] } },
    {
      edges: [
        { gated: 'web', gates: 'db', reason: 'schema first' },
        { gated: 'web', gates: 'other', reason: null },
      ],
    }
  )
  const opts = (db: OpenedOptions['phases']): FleetState => opened(ms, { phases: db ?? {} })
  test('blocks while the gating host is Soaking', () => {
    expect(judge(hostEdgesGate, ms, opts({ db: 'Soaking' }), 'stable', 'web')).toEqual({
      gate: 'host-edge',
      reason: 'host-edge: web waits for db (Soaking) (schema first)',
    })
  })
  test('passes once the gating host is Converged', () => {
    expect(judge(hostEdgesGate, ms, opts({ db: 'Converged' }), 'stable', 'web')).toBeUndefined()
  })
  test('a Deferred gating host blocks (it waits for a reboot) unless the policy opts in', () => {
    expect(judge(hostEdgesGate, ms, opts({ db: 'Deferred' }), 'stable', 'web')).toEqual({
      gate: 'host-edge',
      reason: 'host-edge: web waits for db (waiting for reboot) (schema first)',
    })
    const optIn = deferredCountsAsDone(ms, 'stable')
    const state = opened(optIn, { phases: { db: 'Deferred' } })
    expect(judge(hostEdgesGate, optIn, state, 'stable', 'web')).toBeUndefined()
  })
  test('blocks while a Converged gating host soaks on the control plane clock', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0)
    const end = now + 10 * 60_000
    const state: FleetState = {
      ...opts({ db: 'Converged' }),
      soakEndsAt: { 'stable@r1': { db: end } },
    }
    expect(judge(hostEdgesGate, ms, state, 'stable', 'web', {}, now)).toEqual({
      gate: 'host-edge',
      reason:
        'host-edge: web waits for db (soak ends 12:10:00, in 10m (control plane clock)) (schema first)',
    })
    expect(judge(hostEdgesGate, ms, state, 'stable', 'web', {}, end)).toBeUndefined()
  })
  test('blocks when the gating host has no record in this rollout', () => {
    const state = opts({ db: 'Converged' })
    const noDb: FleetState = {
      ...state,
      hosts: { ...state.hosts, 'stable@r1': { web: state.hosts['stable@r1']!['web']! } },
    }
    expect(judge(hostEdgesGate, ms, noDb, 'stable', 'web')?.reason).toBe(
      'host-edge: web waits for db (no record) (schema first)'
    )
  })
  test('ignores edges whose gating host is on another channel', () => {
    // `other` (channel edge) is Pending, yet only the same-channel edge counts.
    expect(
      judge(hostEdgesGate, ms, opts({ db: 'Converged', other: 'Pending' }), 'stable', 'web')
    ).toBeUndefined()
  })
})

describe('disruption-budget gate', () => {
  const hosts = ['h1', 'h2', 'h3']
  const at = (max: number | null, pct: number | null = null) =>
    world({ stable: { waves: [hosts], budgets: [budget(hosts, max, pct)] } })
  test('blocks at the cap (1 Activating, max 1)', () => {
    const ms = at(1)
    expect(
      judge(disruptionBudgetGate, ms, opened(ms, { phases: { h1: 'Activating' } }), 'stable', 'h2')
    ).toEqual({
      gate: 'disruption-budget',
      reason: "budget 'all' full: 1/1 in flight",
    })
  })
  test('passes under the cap (max 2)', () => {
    const ms = at(2)
    expect(
      judge(disruptionBudgetGate, ms, opened(ms, { phases: { h1: 'Soaking' } }), 'stable', 'h2')
    ).toBeUndefined()
  })
  test('ignores Converged, Deferred, Failed and Pending hosts (D-008: Pending is not in flight)', () => {
    const ms = at(1)
    const state = opened(ms, { phases: { h1: 'Converged', h3: 'Deferred' } })
    expect(judge(disruptionBudgetGate, ms, state, 'stable', 'h2')).toBeUndefined()
    const failed = opened(ms, { phases: { h1: 'Failed', h3: 'Reverted' } })
    expect(judge(disruptionBudgetGate, ms, failed, 'stable', 'h2')).toBeUndefined()
  })
  test('maxInFlightPct is honoured as ceil(pct × hosts / 100), at least 1 (DECISIONS §3.10)', () => {
    const ms = at(null, 50) // ceil(1.5) = 2
    expect(
      judge(disruptionBudgetGate, ms, opened(ms, { phases: { h1: 'Soaking' } }), 'stable', 'h2')
    ).toBeUndefined()
    expect(
      judge(
        disruptionBudgetGate,
        ms,
        opened(ms, { phases: { h1: 'Soaking', h3: 'Soaking' } }),
        'stable',
        'h2'
      )?.reason
    ).toBe("budget 'all' full: 2/2 in flight")
    const tiny = at(null, 1) // ceil(0.03) = 1
    expect(judge(disruptionBudgetGate, tiny, opened(tiny), 'stable', 'h2')).toBeUndefined()
    expect(
      judge(disruptionBudgetGate, tiny, opened(tiny, { phases: { h1: 'Soaking' } }), 'stable', 'h2')
        ?.reason
    ).toBe("budget 'all' full: 1/1 in flight")
  })
  test('counts in-flight hosts of every rollout with an equal selector', () => {
    const tagged = { tags: ['db'], tagsAny: [], hosts: [], channel: null, all: false }
    const ms = world({
      stable: { waves: [['s1', 's2']], budgets: [budget(['s1', 's2', 'e1'], 1, null, tagged)] },
      edge: { waves: [['e1']], budgets: [budget(['s1', 's2', 'e1'], 1, null, { ...tagged })] },
    })
    expect(
      judge(disruptionBudgetGate, ms, opened(ms, { phases: { e1: 'Soaking' } }), 'stable', 's1')
    ).toEqual({
      gate: 'disruption-budget',
      reason: "budget 'tags:db' full: 1/1 in flight",
    })
  })
})

describe('compliance-wave gate', () => {
  const ms = world({ stable: { waves: [['h1', 'h2'], ['h3'], ['h4']] } })
  const rid = 'stable@r1'
  test('blocks a later-wave host while earlier waves have failing enforce probes', () => {
    const state = {
      ...opened(ms, { rollouts: { stable: { currentWave: 2 } } }),
      outstandingEnforceFailures: { [rid]: { h2: 2, h3: 1 } },
    }
    expect(judge(complianceWaveGate, ms, state, 'stable', 'h4')).toEqual({
      gate: 'compliance-wave',
      reason: 'wave 2 waits: 3 failing enforce-probe result(s) in earlier waves (h2, h3)',
    })
    expect(judge(complianceWaveGate, ms, state, 'stable', 'h3')?.reason).toBe(
      'wave 1 waits: 2 failing enforce-probe result(s) in earlier waves (h2)'
    )
  })
  test('passes with an empty map, and always for wave 0', () => {
    const state = opened(ms, { rollouts: { stable: { currentWave: 2 } } })
    expect(judge(complianceWaveGate, ms, state, 'stable', 'h4')).toBeUndefined()
    const failing = { ...state, outstandingEnforceFailures: { [rid]: { h2: 5 } } }
    expect(judge(complianceWaveGate, ms, failing, 'stable', 'h1')).toBeUndefined()
  })
})

describe('gate sentences name the holding host and its problem', () => {
  const ms = world(
    { stable: { waves: [['h1', 'h2'], ['h3']] } },
    { edges: [{ gated: 'h3', gates: 'h1', reason: null }] }
  )
  const now = Date.UTC(2026, 0, 1, 11, 43, 28)
  test('wave promotion: the host with a problem first, with its problem', () => {
    const state: FleetState = {
      ...opened(ms, { phases: { h1: 'Converged', h2: 'Pending' } }),
      soakEndsAt: { 'stable@r1': { h1: now + 102_000 } },
      hostProblems: { h2: 'refused: Stale' },
    }
    expect(judge(wavePromotionGate, ms, state, 'stable', 'h3', {}, now)).toEqual({
      gate: 'wave-promotion',
      reason:
        'wave 1 waits: h2 Pending (refused: Stale), h1 soak ends 11:45:10, in 1m42s (control plane clock)',
    })
  })
  test('host edge: the gating host with its problem', () => {
    const state: FleetState = {
      ...opened(ms, { phases: { h1: 'Pending' }, rollouts: { stable: { currentWave: 1 } } }),
      hostProblems: { h1: 'offline 3m10s' },
    }
    expect(judge(hostEdgesGate, ms, state, 'stable', 'h3', {}, now)?.reason).toBe(
      'host-edge: h3 waits for h1 (Pending; offline 3m10s)'
    )
  })
})
