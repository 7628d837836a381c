import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { HOST_PHASES } from '../host/state.ts'
import type { RolloutEvent } from './events.ts'
import type { RolloutRecord } from './state.ts'
import { openRolloutRecord, stepRollout } from './step.ts'

const ID = 'stable@abc'
const at = fc.integer({ min: 0, max: 1_000_000 })
const eventArb: fc.Arbitrary<RolloutEvent> = fc.oneof(
  fc.record({
    type: fc.constant('HostJoined' as const),
    rolloutId: fc.constant(ID),
    hostname: fc.constantFrom('h1', 'h2'),
    wave: fc.nat(4),
    at,
  }),
  fc.record({
    type: fc.constant('HostStateChanged' as const),
    rolloutId: fc.constant(ID),
    hostname: fc.constantFrom('h1', 'h2'),
    from: fc.constantFrom(...HOST_PHASES),
    to: fc.constantFrom(...HOST_PHASES),
    at,
  }),
  fc.record({
    type: fc.constant('WaveAdvanced' as const),
    rolloutId: fc.constant(ID),
    fromWave: fc.nat(5),
    toWave: fc.nat(5),
    at,
  }),
  fc.record({ type: fc.constant('RolloutTerminal' as const), rolloutId: fc.constant(ID), at }),
  fc.record({
    type: fc.constant('SuccessorOpened' as const),
    supersededRolloutId: fc.constant(ID),
    successorRolloutId: fc.constant('stable@def'),
    at,
  }),
  fc.record({ type: fc.constant('RetentionExpired' as const), rolloutId: fc.constant(ID), at }),
  fc.record({
    type: fc.constant('OperatorClearance' as const),
    rolloutId: fc.constant(ID),
    operator: fc.constant('op'),
    reason: fc.constant('r'),
    at,
  }),
  fc.record({
    type: fc.constant('OperatorCancelled' as const),
    rolloutId: fc.constant(ID),
    operator: fc.constant('op'),
    reason: fc.constant('r'),
    at,
  }),
  fc.record({
    type: fc.constant('RolloutOpened' as const),
    rolloutId: fc.constant(ID),
    channel: fc.constant('stable'),
    targetRef: fc.constant('abc'),
    at,
  })
)

type Step = {
  before: RolloutRecord
  event: RolloutEvent
  after: RolloutRecord
  ok: boolean
  effects: readonly unknown[]
}

function play(events: readonly RolloutEvent[]): Step[] {
  let record = openRolloutRecord({
    type: 'RolloutOpened',
    rolloutId: ID,
    channel: 'stable',
    targetRef: 'abc',
    at: 0,
  })
  const out: Step[] = []
  for (const event of events) {
    const r = stepRollout(record, event, 0)
    const after = r.ok ? r.record : record
    out.push({ before: record, event, after, ok: r.ok, effects: r.ok ? r.effects : [] })
    record = after
  }
  return out
}

const runs = { numRuns: 500 }
const seqArb = fc.array(eventArb, { maxLength: 40 })

describe('rollout step properties (spec §8.3)', () => {
  test('Terminal implies terminal_at; Superseded implies superseded_at; Cancelled, who and why', () => {
    fc.assert(
      fc.property(seqArb, (events) => {
        for (const s of play(events)) {
          if (s.after.phase === 'Terminal') expect(s.after.terminalAt).not.toBeNull()
          if (s.after.phase === 'Superseded') expect(s.after.supersededAt).not.toBeNull()
          if (s.after.phase === 'Cancelled') expect(s.after.cancelled).not.toBeNull()
        }
      }),
      runs
    )
  })

  test('Pruned is absorbing', () => {
    fc.assert(
      fc.property(seqArb, (events) => {
        for (const s of play(events)) if (s.before.phase === 'Pruned') expect(s.ok).toBe(false)
      }),
      runs
    )
  })

  test('current_wave never decreases', () => {
    fc.assert(
      fc.property(seqArb, (events) => {
        for (const s of play(events))
          expect(s.after.currentWave).toBeGreaterThanOrEqual(s.before.currentWave)
      }),
      runs
    )
  })

  test('RecordRolloutTransition matches the actual change', () => {
    fc.assert(
      fc.property(seqArb, (events) => {
        for (const s of play(events)) {
          const recorded = s.effects.filter(
            (e) => (e as { type: string }).type === 'RecordRolloutTransition'
          )
          expect(recorded).toEqual(
            s.after.phase === s.before.phase
              ? []
              : [expect.objectContaining({ from: s.before.phase, to: s.after.phase })]
          )
        }
      }),
      runs
    )
  })

  test('a halt exists only in Failed or Reverted, and only a resume, cancel, supersession or pruning clears it', () => {
    fc.assert(
      fc.property(seqArb, (events) => {
        for (const s of play(events)) {
          if (s.after.halt !== null) expect(['Failed', 'Reverted']).toContain(s.after.phase)
          if (s.before.halt !== null && s.after.halt === null) {
            expect([
              'OperatorClearance',
              'OperatorCancelled',
              'SuccessorOpened',
              'RetentionExpired',
            ]).toContain(s.event.type)
          }
        }
      }),
      runs
    )
  })
})
