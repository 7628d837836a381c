import { describe, expect, test } from 'bun:test'
import { HOST_EVENT_TYPES, type HostEventType } from './events.ts'
import { inPhase, LEGAL_EVENTS, makeEvent, MIN, ROLLBACK_POLICY, T0 } from './fixtures.ts'
import { HOST_PHASES, type HostPhase } from './state.ts'
import { describeHostStepError } from './errors.ts'
import { step } from './step.ts'

const LEGAL = LEGAL_EVENTS

// Every legal event is valid for the fixture records (convergence at t0+7m is after soak).
const at = T0 + 7 * MIN

function outcome(phase: HostPhase, type: HostEventType): 'legal' | 'illegal' | string {
  const r = step(inPhase(phase, 10), makeEvent(type, 11, { at }), T0, ROLLBACK_POLICY)
  if (r.ok) return 'legal'
  return r.error.type === 'IllegalForState' ? 'illegal' : r.error.type
}

describe('legality matrix (spec §1.6, §8.2)', () => {
  test('the full matrix: 7 states × 24 events = 168 pairs, 28 legal, the rest IllegalForState', () => {
    const pairs = HOST_PHASES.flatMap((phase) => HOST_EVENT_TYPES.map((type) => ({ phase, type })))
    expect(pairs).toHaveLength(168)
    const got = pairs.map(({ phase, type }) => `${phase}/${type}: ${outcome(phase, type)}`)
    const want = pairs.map(
      ({ phase, type }) => `${phase}/${type}: ${LEGAL[phase].includes(type) ? 'legal' : 'illegal'}`
    )
    expect(got).toEqual(want)
    expect(got.filter((g) => g.endsWith(': legal'))).toHaveLength(28)
  })

  test("the reference's subset (no Deferred, no topology/deferred events): 120 pairs, 20 legal", () => {
    const excluded = new Set<HostEventType>([
      'LocalProbeTopologyDeclared',
      'RemoteProbeTopologyDeclared',
      'LocalActivationDeferred',
      'RemoteActivationDeferred',
    ])
    const phases = HOST_PHASES.filter((p) => p !== 'Deferred')
    const events = HOST_EVENT_TYPES.filter((e) => !excluded.has(e))
    const results = phases.flatMap((p) => events.map((e) => outcome(p, e)))
    expect(results).toHaveLength(120)
    expect(results.filter((r) => r === 'legal')).toHaveLength(20)
    expect(results.filter((r) => r !== 'legal' && r !== 'illegal')).toEqual([])
  })

  test('Converged and Reverted absorb every event', () => {
    for (const phase of ['Converged', 'Reverted'] as const) {
      for (const type of HOST_EVENT_TYPES) expect(outcome(phase, type)).toBe('illegal')
    }
  })

  test('IllegalForState names the state, the event and the record', () => {
    const r = step(
      inPhase('Pending', 0),
      makeEvent('LocalConvergedReached', 1),
      T0,
      ROLLBACK_POLICY
    )
    expect(r).toEqual({
      ok: false,
      error: {
        type: 'IllegalForState',
        from: 'Pending',
        event: 'LocalConvergedReached',
        rolloutId: 'r1',
        hostname: 'web-01',
      },
    })
  })
})

describe('sequence-number precheck (spec §1.5)', () => {
  const cases: [HostPhase, HostEventType][] = [
    ['Pending', 'LocalActivate'],
    ['Activating', 'RemoteActivationStarted'],
    ['Soaking', 'LocalProbeResult'],
    ['Failed', 'RemoteRollbackComplete'],
  ]
  for (const [phase, type] of cases) {
    test(`${phase}: ${type} with seq 10 (retransmit) and 5 (out of order) is SeqRegression`, () => {
      for (const seq of [10, 5]) {
        const r = step(inPhase(phase, 10), makeEvent(type, seq, { at }), T0, ROLLBACK_POLICY)
        expect(r).toEqual({
          ok: false,
          error: { type: 'SeqRegression', got: seq, last: 10, rolloutId: 'r1', hostname: 'web-01' },
        })
      }
      expect(step(inPhase(phase, 10), makeEvent(type, 11, { at }), T0, ROLLBACK_POLICY).ok).toBe(
        true
      )
    })
  }

  test('the precheck runs before legality, even in absorbing states', () => {
    const r = step(inPhase('Converged', 10), makeEvent('RemoteConverged', 9), T0, ROLLBACK_POLICY)
    expect(r).toMatchObject({ ok: false, error: { type: 'SeqRegression' } })
  })

  test('a successful step stores the event seq, gaps allowed', () => {
    const r = step(
      inPhase('Soaking', 3),
      makeEvent('RemoteProbeResult', 42, { at }),
      T0,
      ROLLBACK_POLICY
    )
    expect(r.ok && r.state.lastEventSeq).toBe(42)
  })
})

describe('describeHostStepError', () => {
  test('renders each error for an operator', () => {
    const who = { rolloutId: 'r1', hostname: 'web-01' }
    expect(
      [
        {
          type: 'IllegalForState' as const,
          from: 'Converged' as const,
          event: 'RemoteFailed' as const,
          ...who,
        },
        { type: 'SeqRegression' as const, got: 4, last: 4, ...who },
        { type: 'SeqRegression' as const, got: 2, last: 4, ...who },
        {
          type: 'Invariant' as const,
          event: 'RemoteConverged' as const,
          violations: ['a', 'b'],
          ...who,
        },
      ].map(describeHostStepError)
    ).toEqual([
      'RemoteFailed is not legal for web-01 in r1 in state Converged',
      'duplicate event seq 4 for web-01 in r1',
      'out-of-order event seq 2 for web-01 in r1 (last 4)',
      'RemoteConverged refused for web-01 in r1: a; b',
    ])
  })
})
