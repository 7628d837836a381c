/**
 * Unit tests of the operator read models as pure functions of a `CpState` built by hand: what
 * each view shows (and in which order), and when a view answers an error instead.
 */
import { describe, expect, test } from 'bun:test'
import { newPendingHost, openRolloutRecord } from '../../../core/index.ts'
import { CpState, pairKey } from '../../state.ts'
import { channelView, deferralsView } from './channels.ts'
import { quarantinesView, refreshView, statusView } from './operator.ts'
import {
  lifecycleView,
  outcomeOf,
  rolloutEventsView,
  rolloutHostsView,
  rolloutRow,
  rolloutsView,
} from './rollouts.ts'

const T = Date.UTC(2026, 4, 1, 12)
const A = `stable@${'a'.repeat(40)}`
const B = `stable@${'b'.repeat(40)}`

function stateWithRollouts(): CpState {
  const s = new CpState()
  const frozen = { policyName: 'p', policy: null, waves: [] }
  s.rollouts.set(A, {
    record: {
      ...openRolloutRecord({
        type: 'RolloutOpened',
        rolloutId: A,
        channel: 'stable',
        targetRef: 'a',
        at: T,
      }),
      phase: 'Superseded',
      supersededAt: T + 10,
      supersededBy: B,
      lastHalt: {
        at: T + 5,
        hostname: 'h1',
        hostPhase: 'Reverted',
        failure: { probe: 'http', reason: 'HTTP 500' },
      },
    },
    policy: frozen,
    budgets: [],
  })
  s.rollouts.set(B, {
    record: {
      ...openRolloutRecord({
        type: 'RolloutOpened',
        rolloutId: B,
        channel: 'stable',
        targetRef: 'b',
        at: T + 10,
      }),
      phase: 'Active',
    },
    policy: frozen,
    budgets: [],
  })
  for (const h of ['h2', 'h1'])
    s.putHost(
      newPendingHost({
        rolloutId: B,
        hostname: h,
        channel: 'stable',
        targetClosure: `c-${h}`,
        dispatchedAt: T + 10,
      }),
      0
    )
  return s
}

describe('rollout views', () => {
  test('open rollouts only, hosts sorted; the lifecycle names the successor', () => {
    const s = stateWithRollouts()
    expect(rolloutsView(s).rollouts).toEqual([
      {
        id: B,
        channel: 'stable',
        state: 'Active',
        currentWave: 0,
        openedAt: '2026-05-01T12:00:00.010Z',
        closedAt: null,
        hostStates: { h1: 'Pending', h2: 'Pending' },
        outcome: null,
        halt: null,
      },
    ])
    expect(lifecycleView(s, A)).toMatchObject({
      ok: true,
      body: {
        state: 'Superseded',
        supersededBy: B,
        supersededAt: '2026-05-01T12:00:00.010Z',
        outcome: { kind: 'superseded', at: '2026-05-01T12:00:00.010Z', by: B },
      },
    })
    expect(lifecycleView(s, `stable@${'c'.repeat(40)}`)).toEqual({
      ok: false,
      status: 404,
      error: 'unknown rollout',
    })
  })

  test('rollout hosts by wave then host; none is 404', () => {
    const s = stateWithRollouts()
    const rec = (h: string) =>
      newPendingHost({
        rolloutId: B,
        hostname: h,
        channel: 'stable',
        targetClosure: 'c',
        dispatchedAt: T,
      })
    const v = rolloutHostsView(s, B, [
      { state: rec('z'), waveIndex: 0 },
      { state: rec('b'), waveIndex: 1 },
      { state: rec('a'), waveIndex: 1 },
    ])
    expect(v.ok && (v.body['hosts'] as { host: string }[]).map((h) => h.host)).toEqual([
      'z',
      'a',
      'b',
    ])
    expect(rolloutHostsView(s, B, [])).toEqual({
      ok: false,
      status: 404,
      error: 'no host records for this rollout',
    })
  })
})

describe('rollout history rows', () => {
  test('a superseded rollout keeps its halt; cancelled and converged outcomes say who, why, when', () => {
    const s = stateWithRollouts()
    const a = s.rollouts.get(A)!.record
    expect(rolloutRow(a, {})).toMatchObject({
      id: A,
      closedAt: '2026-05-01T12:00:00.010Z',
      outcome: { kind: 'superseded', by: B },
      halt: { host: 'h1', probe: 'http', reason: 'HTTP 500', active: false },
    })
    const cancelled = { at: T + 20, operator: 'operator-alice', reason: 'bad build' }
    expect(outcomeOf({ ...a, supersededAt: null, phase: 'Cancelled', cancelled })).toEqual({
      kind: 'cancelled',
      at: '2026-05-01T12:00:00.020Z',
      by: 'operator-alice',
      reason: 'bad build',
    })
    expect(outcomeOf({ ...a, supersededAt: null, phase: 'Terminal', terminalAt: T + 30 })).toEqual({
      kind: 'converged',
      at: '2026-05-01T12:00:00.030Z',
    })
    const halt = a.lastHalt!
    expect(outcomeOf({ ...a, supersededAt: null, phase: 'Reverted', halt })).toEqual({
      kind: 'halted',
      at: '2026-05-01T12:00:00.005Z',
      host: 'h1',
      probe: 'http',
      reason: 'HTTP 500',
    })
  })

  test('an events page names the next cursor only when more rows exist', () => {
    const row = (seq: number) => ({
      seq,
      ts: T,
      kind: 'operator_action' as const,
      host: null,
      rolloutId: B,
      payload: {},
    })
    expect(rolloutEventsView(B, [row(1), row(2), row(3)], 2)).toMatchObject({
      rolloutId: B,
      events: [{ seq: 1, at: '2026-05-01T12:00:00.000Z' }, { seq: 2 }],
      next: 2,
    })
    expect(rolloutEventsView(B, [row(1)], 2)['next']).toBeNull()
  })
})

describe('channel and operator views', () => {
  test('no adopted fleet: the channel view is 503, the rest is empty', () => {
    const s = new CpState()
    expect(channelView(s, 'stable', 0)).toEqual({
      ok: false,
      status: 503,
      error: 'no verified fleet yet',
    })
    expect(deferralsView(s, 0)).toEqual({ deferrals: [], hostDeferrals: [] })
    expect(refreshView(s, false)).toEqual({
      refreshed: false,
      fleet: null,
      rollouts: [],
      errors: [],
    })
  })

  test('host deferrals and quarantines are sorted; status shows errors, marks and figures', () => {
    const s = new CpState()
    s.gateBlocks.set(pairKey(B, 'h2'), { gate: 'halted', reason: 'r2', since: T })
    s.gateBlocks.set(pairKey(A, 'h9'), { gate: 'wave-promotion', reason: 'r9', since: T })
    expect(deferralsView(s, 0).hostDeferrals.map((d) => [d.rolloutId, d.hostname])).toEqual([
      [A, 'h9'],
      [B, 'h2'],
    ])
    s.addQuarantine('stable', 'z', T)
    s.addQuarantine('edge', 'y', T + 1)
    const withSource = stateWithRollouts()
    withSource.addQuarantine('stable', 'z', T)
    withSource.addQuarantine('edge', 'y', T + 1)
    const sources = (channel: string) =>
      channel === 'stable' ? { host: 'h1', rolloutId: A } : { host: null, rolloutId: null }
    expect(quarantinesView(withSource, sources).quarantines).toEqual([
      {
        channel: 'edge',
        closure: 'y',
        reason: 'a host rolled back from it',
        rolloutId: null,
        host: null,
        at: '2026-05-01T12:00:00.001Z',
      },
      {
        channel: 'stable',
        closure: 'z',
        // The halt that quarantined it is kept after the rollout was superseded.
        reason: 'h1 rolled back from it: HTTP 500',
        rolloutId: A,
        host: 'h1',
        at: '2026-05-01T12:00:00.000Z',
      },
    ])
    s.status.set('fleet', {
      key: 'fleet',
      adopted: null,
      lastCheckedAt: T,
      lastError: { kind: 'Rollback', message: 'older', at: T },
    })
    s.marks.set('fleet', { signedAtMs: T, ciCommit: null, sha256: 'x' })
    expect(statusView(s, { ready: false, mutatorQueueDepth: 3, openLongPolls: 2 })).toEqual({
      ready: false,
      release: null,
      artifacts: [
        {
          key: 'fleet',
          adopted: null,
          lastCheckedAt: '2026-05-01T12:00:00.000Z',
          lastError: { kind: 'Rollback', message: 'older', at: '2026-05-01T12:00:00.000Z' },
        },
      ],
      highWaterMarks: {
        fleet: { signedAt: '2026-05-01T12:00:00.000Z', ciCommit: null, sha256: 'x' },
      },
      reducerQueueDepth: 3,
      dispatchQueueDepth: 0,
      openLongPolls: 2,
      lastPlanAt: null,
    })
    expect(refreshView(s, true)['errors']).toEqual([
      { key: 'fleet', kind: 'Rollback', message: 'older' },
    ])
  })
})
