import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { HOST_EVENT_TYPES, type HostEvent } from './events.ts'
import { LEGAL_EVENTS, makeEvent, MIN, pending, PRIOR, T0, TARGET } from './fixtures.ts'
import type { HostPolicy, HostRolloutState } from './state.ts'
import { step, type HostStepResult } from './step.ts'
import { tickVerdict } from './tick.ts'

/** One random move: a legal event most of the time (so traces get somewhere), any event else. */
const moveArb = fc.record({
  legal: fc.boolean(),
  pick: fc.nat(),
  seqDelta: fc.integer({ min: -2, max: 3 }),
  dt: fc.integer({ min: 0, max: 4 * MIN }),
  closure: fc.constantFrom(TARGET, TARGET, PRIOR, 'other'),
  probeName: fc.constantFrom('http', 'tcp'),
  status: fc.constantFrom('pass' as const, 'fail' as const),
  mode: fc.constantFrom('enforce' as const, 'observe' as const, 'disabled' as const),
  policy: fc.constantFrom('halt' as const, 'rollback-and-halt' as const),
  tickInstead: fc.boolean(),
})
type Move = typeof moveArb extends fc.Arbitrary<infer M> ? M : never

const policyArb: fc.Arbitrary<HostPolicy> = fc.record({
  onHealthFailure: fc.constantFrom('halt' as const, 'rollback-and-halt' as const),
  soakMs: fc.integer({ min: 0, max: 10 * MIN }),
  sustainedFailureMs: fc.integer({ min: 1_000, max: 3 * MIN }),
})

type Trace = { state: HostRolloutState; event: HostEvent; now: number; result: HostStepResult }[]

/** Plays moves from the Pending fixture, feeding the tick's verdicts in now and then. */
function play(moves: readonly Move[], policy: HostPolicy): Trace {
  const trace: Trace = []
  let state = pending()
  let now = T0
  for (const m of moves) {
    now += m.dt
    const verdict = m.tickInstead ? tickVerdict(state, now, policy) : undefined
    let event: HostEvent
    if (verdict !== undefined) {
      event = verdict
    } else {
      const legal = LEGAL_EVENTS[state.phase]
      const pool = m.legal && legal.length > 0 ? legal : HOST_EVENT_TYPES
      const type = pool[m.pick % pool.length]!
      event = makeEvent(type, Math.max(0, state.lastEventSeq + m.seqDelta), { ...m, at: now })
    }
    const result = step(state, event, now, policy)
    trace.push({ state, event, now, result })
    if (result.ok) state = result.state
  }
  return trace
}

const traceArb = fc.tuple(fc.array(moveArb, { maxLength: 40 }), policyArb)
const RUNS = { numRuns: 300 }

describe('host step properties (spec §8.2 proptests)', () => {
  test('step is deterministic and never mutates its input', () => {
    fc.assert(
      fc.property(traceArb, ([moves, policy]) => {
        for (const t of play(moves, policy)) {
          const before = structuredClone(t.state)
          const again = step(t.state, t.event, t.now, policy)
          expect(again).toEqual(t.result)
          expect(t.state).toEqual(before)
        }
      }),
      RUNS
    )
  })

  test('Converged implies current closure == target closure', () => {
    fc.assert(
      fc.property(traceArb, ([moves, policy]) => {
        for (const t of play(moves, policy)) {
          if (t.result.ok && t.result.state.phase === 'Converged') {
            expect(t.result.state.currentClosure).toBe(t.result.state.targetClosure)
          }
        }
      }),
      RUNS
    )
  })

  test('Converged and Reverted absorb every event', () => {
    fc.assert(
      fc.property(traceArb, ([moves, policy]) => {
        for (const t of play(moves, policy)) {
          if (t.state.phase === 'Converged' || t.state.phase === 'Reverted') {
            expect(t.result.ok).toBe(false)
          }
        }
      }),
      RUNS
    )
  })

  test('last_event_seq only grows, and a success stores the event seq', () => {
    fc.assert(
      fc.property(traceArb, ([moves, policy]) => {
        for (const t of play(moves, policy)) {
          if (!t.result.ok) continue
          expect(t.result.state.lastEventSeq).toBe(t.event.seq)
          expect(t.result.state.lastEventSeq).toBeGreaterThan(t.state.lastEventSeq)
        }
      }),
      RUNS
    )
  })

  test('RecordTransition is emitted exactly when the phase changes, naming both phases', () => {
    fc.assert(
      fc.property(traceArb, ([moves, policy]) => {
        for (const t of play(moves, policy)) {
          if (!t.result.ok) continue
          const records = t.result.effects.filter((e) => e.type === 'RecordTransition')
          const changed = t.result.state.phase !== t.state.phase
          expect(records).toEqual(
            changed
              ? [expect.objectContaining({ from: t.state.phase, to: t.result.state.phase })]
              : []
          )
        }
      }),
      RUNS
    )
  })

  test('a rollback is fired only on entering Failed under rollback-and-halt, to the prior closure', () => {
    fc.assert(
      fc.property(traceArb, ([moves, policy]) => {
        for (const t of play(moves, policy)) {
          if (!t.result.ok) continue
          for (const e of t.result.effects) {
            if (e.type !== 'LocalFireRollbackTo') continue
            expect(t.result.state.phase).toBe('Failed')
            expect(t.result.state.policyApplied).toBe('rollback-and-halt')
            expect(e.closure).toBe(t.state.currentClosureAtDispatch ?? '')
            expect(e.closure).not.toBe(t.state.targetClosure)
          }
        }
      }),
      RUNS
    )
  })

  test('the tick verdict for a Soaking record is always accepted by step', () => {
    fc.assert(
      fc.property(traceArb, fc.integer({ min: 0, max: 30 * MIN }), ([moves, policy], later) => {
        for (const t of play(moves, policy)) {
          if (t.state.phase !== 'Soaking') continue
          const v = tickVerdict(t.state, t.now + later, policy)
          if (v !== undefined) expect(step(t.state, v, t.now + later, policy).ok).toBe(true)
        }
      }),
      RUNS
    )
  })

  test('states and effects are plain JSON values', () => {
    fc.assert(
      fc.property(traceArb, ([moves, policy]) => {
        for (const t of play(moves, policy)) {
          if (!t.result.ok) continue
          expect(JSON.parse(JSON.stringify(t.result))).toEqual(t.result)
        }
      }),
      { numRuns: 100 }
    )
  })

  test('the random traces do reach every state (the generator is not vacuous)', () => {
    const seen = new Set<string>()
    fc.assert(
      fc.property(traceArb, ([moves, policy]) => {
        for (const t of play(moves, policy)) if (t.result.ok) seen.add(t.result.state.phase)
      }),
      { numRuns: 300, seed: 7 }
    )
    expect([...seen].sort()).toEqual(
      ['Activating', 'Converged', 'Deferred', 'Failed', 'Reverted', 'Soaking'].sort()
    )
  })
})
