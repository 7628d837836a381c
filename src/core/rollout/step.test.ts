import { describe, expect, test } from 'bun:test'
import type { HostPhase } from '../host/state.ts'
import type { RolloutEffect } from './effects.ts'
import type { RolloutEvent } from './events.ts'
import type { RolloutPhase, RolloutRecord } from './state.ts'
import {
  allHostsConverged,
  openRolloutRecord,
  stepRollout,
  type RolloutStepResult,
} from './step.ts'

const T = 1_000_000
const ID = 'stable@abc'

function rec(patch: Partial<RolloutRecord> = {}): RolloutRecord {
  return {
    ...openRolloutRecord({
      type: 'RolloutOpened',
      rolloutId: ID,
      channel: 'stable',
      targetRef: 'abc',
      at: T,
    }),
    ...patch,
  }
}

const ev = {
  joined: (wave = 0): RolloutEvent => ({
    type: 'HostJoined',
    rolloutId: ID,
    hostname: 'h1',
    wave,
    at: T + 1,
  }),
  changed: (
    from: HostPhase = 'Soaking',
    to: HostPhase = 'Converged',
    hostname = 'h1'
  ): RolloutEvent => ({
    type: 'HostStateChanged',
    rolloutId: ID,
    hostname,
    from,
    to,
    at: T + 2,
  }),
  wave: (fromWave = 0, toWave = 1): RolloutEvent => ({
    type: 'WaveAdvanced',
    rolloutId: ID,
    fromWave,
    toWave,
    at: T + 3,
  }),
  terminal: (): RolloutEvent => ({ type: 'RolloutTerminal', rolloutId: ID, at: T + 4 }),
  successor: (): RolloutEvent => ({
    type: 'SuccessorOpened',
    supersededRolloutId: ID,
    successorRolloutId: 'stable@def',
    at: T + 5,
  }),
  retention: (): RolloutEvent => ({ type: 'RetentionExpired', rolloutId: ID, at: T + 6 }),
  clearance: (): RolloutEvent => ({
    type: 'OperatorClearance',
    rolloutId: ID,
    operator: 'operator-alice',
    reason: 'flaky probe',
    at: T + 7,
  }),
  opened: (): RolloutEvent => ({
    type: 'RolloutOpened',
    rolloutId: ID,
    channel: 'stable',
    targetRef: 'abc',
    at: T,
  }),
}

function okOf(r: RolloutStepResult): Extract<RolloutStepResult, { ok: true }> {
  if (!r.ok) throw new Error(JSON.stringify(r.error))
  return r
}

const transition = (from: RolloutPhase, to: RolloutPhase, at: number): RolloutEffect => ({
  type: 'RecordRolloutTransition',
  rolloutId: ID,
  from,
  to,
  at,
})

describe('Opening', () => {
  test('HostJoined → Active without touching the wave, even for a wave-2 host (D-027)', () => {
    const r = okOf(stepRollout(rec(), ev.joined(2), T))
    expect(r.record).toEqual(rec({ phase: 'Active' }))
    expect(r.effects).toEqual([transition('Opening', 'Active', T + 1)])
  })
  test('SuccessorOpened → Superseded with superseded_at', () => {
    const r = okOf(stepRollout(rec(), ev.successor(), T))
    expect(r.record).toEqual(
      rec({ phase: 'Superseded', supersededAt: T + 5, supersededBy: 'stable@def' })
    )
  })
  test('RolloutTerminal and HostStateChanged are illegal', () => {
    for (const e of [ev.terminal(), ev.changed('Soaking', 'Converged')]) {
      expect(stepRollout(rec(), e, T)).toEqual({
        ok: false,
        error: { type: 'IllegalForState', from: 'Opening', event: e.type, rolloutId: ID },
      })
    }
  })
})

describe('Active', () => {
  const active = rec({ phase: 'Active' })
  test('a host Failed → rollout Failed and halted (DECISIONS §3.4)', () => {
    const r = okOf(stepRollout(active, ev.changed('Soaking', 'Failed'), T))
    expect(r.record).toEqual({
      ...active,
      phase: 'Failed',
      halt: { at: T + 2, hostname: 'h1', hostPhase: 'Failed' },
      lastHalt: { at: T + 2, hostname: 'h1', hostPhase: 'Failed' },
    })
    expect(r.effects).toEqual([
      transition('Active', 'Failed', T + 2),
      { type: 'RecordRolloutHalted', rolloutId: ID, hostname: 'h1', at: T + 2 },
    ])
  })
  test('a host Reverted → rollout Reverted and halted', () => {
    const r = okOf(stepRollout(active, ev.changed('Failed', 'Reverted'), T))
    expect(r.record).toMatchObject({ phase: 'Reverted', halt: { hostPhase: 'Reverted' } })
  })
  test('a host reaching Soaking is observed only', () => {
    expect(stepRollout(active, ev.changed('Activating', 'Soaking'), T)).toEqual({
      ok: true,
      record: active,
      effects: [],
    })
  })
  test('WaveAdvanced 0→1 stays Active and updates the wave', () => {
    const r = okOf(stepRollout(active, ev.wave(0, 1), T))
    expect(r.record).toEqual({ ...active, currentWave: 1 })
    expect(r.effects).toEqual([{ type: 'UpdateCurrentWave', rolloutId: ID, wave: 1 }])
  })
  test('WaveAdvanced 0→0 → Converging', () => {
    const r = okOf(stepRollout(active, ev.wave(0, 0), T))
    expect(r.record.phase).toBe('Converging')
    expect(r.effects).toEqual([transition('Active', 'Converging', T + 3)])
  })
  test('WaveAdvanced never lowers the wave', () => {
    const r = okOf(stepRollout({ ...active, currentWave: 3 }, ev.wave(1, 2), T))
    expect(r.record.currentWave).toBe(3)
    expect(r.effects).toEqual([])
  })
  test('RolloutTerminal sets terminal_at', () => {
    expect(okOf(stepRollout(active, ev.terminal(), T)).record).toEqual({
      ...active,
      phase: 'Terminal',
      terminalAt: T + 4,
    })
  })
  test('SuccessorOpened sets superseded_at', () => {
    expect(okOf(stepRollout(active, ev.successor(), T)).record).toEqual({
      ...active,
      phase: 'Superseded',
      supersededAt: T + 5,
      supersededBy: 'stable@def',
    })
  })
  test('RolloutOpened, RetentionExpired and OperatorClearance are illegal', () => {
    for (const e of [ev.opened(), ev.retention(), ev.clearance()])
      expect(stepRollout(active, e, T).ok).toBe(false)
  })
})

describe('Converging', () => {
  const converging = rec({ phase: 'Converging' })
  test('WaveAdvanced 0→1 → Active at wave 1', () => {
    const r = okOf(stepRollout(converging, ev.wave(0, 1), T))
    expect(r.record).toEqual({ ...converging, phase: 'Active', currentWave: 1 })
    expect(r.effects).toEqual([
      transition('Converging', 'Active', T + 3),
      { type: 'UpdateCurrentWave', rolloutId: ID, wave: 1 },
    ])
  })
  test('RolloutTerminal → Terminal', () => {
    expect(okOf(stepRollout(converging, ev.terminal(), T)).record.phase).toBe('Terminal')
  })
  test('a late host failure → Failed and halted', () => {
    expect(okOf(stepRollout(converging, ev.changed('Soaking', 'Failed'), T)).record).toMatchObject({
      phase: 'Failed',
      halt: { hostname: 'h1' },
    })
  })
})

describe('Terminal', () => {
  const terminal = rec({ phase: 'Terminal', terminalAt: T + 4 })
  test('→ Superseded, → Pruned, idempotent RolloutTerminal', () => {
    expect(okOf(stepRollout(terminal, ev.successor(), T)).record.phase).toBe('Superseded')
    expect(okOf(stepRollout(terminal, ev.retention(), T)).record.phase).toBe('Pruned')
    expect(stepRollout(terminal, ev.terminal(), T)).toEqual({
      ok: true,
      record: terminal,
      effects: [],
    })
  })
  test('WaveAdvanced is illegal', () => {
    expect(stepRollout(terminal, ev.wave(0, 1), T).ok).toBe(false)
  })
})

describe('Failed / Reverted, halt and resume (DECISIONS §3.4)', () => {
  const halt = { at: T + 2, hostname: 'h1', hostPhase: 'Failed' } as const
  const halted = rec({ phase: 'Failed', halt, lastHalt: halt })
  test('→ Superseded (ending the halt, keeping it in lastHalt) and → Pruned', () => {
    const s = okOf(stepRollout(halted, ev.successor(), T)).record
    expect(s).toEqual({
      ...halted,
      phase: 'Superseded',
      supersededAt: T + 5,
      supersededBy: 'stable@def',
      halt: null,
    })
    expect(s.lastHalt).toEqual(halt)
    expect(okOf(stepRollout(rec({ phase: 'Reverted' }), ev.retention(), T)).record.phase).toBe(
      'Pruned'
    )
  })
  test('an operator resume clears the halt and records who and why', () => {
    const r = okOf(stepRollout(halted, ev.clearance(), T))
    expect(r.record).toEqual({
      ...halted,
      halt: null,
      lastResume: { at: T + 7, operator: 'operator-alice', reason: 'flaky probe' },
    })
    expect(r.effects).toEqual([
      {
        type: 'RecordRolloutResumed',
        rolloutId: ID,
        operator: 'operator-alice',
        reason: 'flaky probe',
        at: T + 7,
      },
    ])
  })
  test('resuming a rollout that is not halted is a no-op', () => {
    const resumed = { ...halted, halt: null }
    expect(stepRollout(resumed, ev.clearance(), T)).toEqual({
      ok: true,
      record: resumed,
      effects: [],
    })
  })
  test('a new host failure after a resume halts again; a finishing rollback does not', () => {
    const resumed = { ...halted, halt: null }
    expect(stepRollout(resumed, ev.changed('Failed', 'Reverted'), T)).toEqual({
      ok: true,
      record: resumed,
      effects: [],
    })
    const r = okOf(stepRollout(resumed, ev.changed('Soaking', 'Failed', 'h2'), T))
    expect(r.record).toEqual({
      ...resumed,
      halt: { at: T + 2, hostname: 'h2', hostPhase: 'Failed' },
      lastHalt: { at: T + 2, hostname: 'h2', hostPhase: 'Failed' },
    })
    expect(r.effects).toEqual([
      { type: 'RecordRolloutHalted', rolloutId: ID, hostname: 'h2', at: T + 2 },
    ])
  })
  test('while halted, HostJoined, WaveAdvanced and RolloutTerminal are no-ops', () => {
    for (const e of [ev.joined(), ev.wave(0, 1), ev.terminal()]) {
      expect(stepRollout(halted, e, T)).toEqual({ ok: true, record: halted, effects: [] })
    }
  })
  test('once resumed, the wave cursor moves and the rollout can become Terminal', () => {
    const resumed = { ...halted, halt: null }
    const w = okOf(stepRollout(resumed, ev.wave(0, 1), T))
    expect(w.record).toEqual({ ...resumed, currentWave: 1 })
    expect(w.effects).toEqual([{ type: 'UpdateCurrentWave', rolloutId: ID, wave: 1 }])
    const t = okOf(stepRollout(resumed, ev.terminal(), T))
    expect(t.record).toMatchObject({ phase: 'Terminal', terminalAt: T + 4, lastHalt: halt })
  })
})

describe('OperatorCancelled', () => {
  const cancel: RolloutEvent = {
    type: 'OperatorCancelled',
    rolloutId: ID,
    operator: 'operator-alice',
    reason: 'bad release',
    at: T + 8,
  }
  test('closes any open rollout, halted or not, recording who and why', () => {
    const halt = { at: T + 2, hostname: 'h1', hostPhase: 'Reverted' } as const
    for (const open of [
      rec(),
      rec({ phase: 'Active' }),
      rec({ phase: 'Converging' }),
      rec({ phase: 'Reverted', halt, lastHalt: halt }),
      rec({ phase: 'Failed' }),
    ]) {
      const r = okOf(stepRollout(open, cancel, T))
      expect(r.record).toMatchObject({
        phase: 'Cancelled',
        halt: null,
        lastHalt: open.lastHalt,
        cancelled: { at: T + 8, operator: 'operator-alice', reason: 'bad release' },
      })
      expect(r.effects).toEqual([transition(open.phase, 'Cancelled', T + 8)])
    }
  })
  test('is illegal once closed; a cancelled rollout ignores late facts and can be pruned', () => {
    for (const phase of ['Terminal', 'Superseded', 'Pruned', 'Cancelled'] as const)
      expect(stepRollout(rec({ phase }), cancel, T).ok).toBe(false)
    const cancelled = okOf(stepRollout(rec({ phase: 'Active' }), cancel, T)).record
    for (const e of [ev.changed('Soaking', 'Failed'), ev.wave(0, 1), ev.terminal(), ev.successor()])
      expect(stepRollout(cancelled, e, T)).toEqual({ ok: true, record: cancelled, effects: [] })
    const pruned = okOf(stepRollout(cancelled, ev.retention(), T)).record
    expect(pruned).toMatchObject({ phase: 'Pruned', cancelled: cancelled.cancelled })
  })
})

describe('Superseded and Pruned', () => {
  const superseded = rec({ phase: 'Superseded', supersededAt: T })
  test('Superseded → Pruned; a repeated SuccessorOpened is a no-op', () => {
    expect(okOf(stepRollout(superseded, ev.retention(), T)).record.phase).toBe('Pruned')
    expect(stepRollout(superseded, ev.successor(), T)).toEqual({
      ok: true,
      record: superseded,
      effects: [],
    })
  })
  test('Pruned rejects every event', () => {
    const pruned = rec({ phase: 'Pruned' })
    for (const e of Object.values(ev).map((f) => f()))
      expect(stepRollout(pruned, e, T).ok).toBe(false)
  })
  test('an event addressed to another rollout is an Invariant error', () => {
    const other: RolloutEvent = { type: 'RolloutTerminal', rolloutId: 'edge@abc', at: T }
    expect(stepRollout(rec({ phase: 'Active' }), other, T)).toEqual({
      ok: false,
      error: { type: 'Invariant', rolloutId: ID, reason: 'RolloutTerminal addressed to edge@abc' },
    })
  })
})

describe('rollout completion', () => {
  test('all hosts Converged (Deferred does not count; an empty rollout is not complete)', () => {
    const of = (...phases: HostPhase[]) => phases.map((phase) => ({ phase }))
    expect(allHostsConverged(of('Converged', 'Converged'))).toBe(true)
    expect(allHostsConverged(of('Converged', 'Deferred'))).toBe(false)
    expect(allHostsConverged([])).toBe(false)
    // A host an operator skipped counts as done, whatever its phase.
    expect(allHostsConverged([{ phase: 'Converged' }, { phase: 'Reverted', skipped: true }])).toBe(
      true
    )
  })
})
