import { describe, expect, test } from 'bun:test'
import type { HostEvent } from './events.ts'
import { HALT_POLICY, inPhase, makeEvent, MIN, ROLLBACK_POLICY, T0, TARGET } from './fixtures.ts'
import { rehydrationEffects } from './rehydrate.ts'
import { HOST_PHASES, type HostPolicy, type HostRolloutState } from './state.ts'
import { step } from './step.ts'
import { tickVerdict } from './tick.ts'

/** Applies events to a Soaking record (soak due t0+6m, seq 3) and returns the result. */
function soakingWith(...events: ((seq: number) => HostEvent)[]): HostRolloutState {
  let s = inPhase('Soaking', 3)
  for (const make of events) {
    const r = step(s, make(s.lastEventSeq + 1), T0, ROLLBACK_POLICY)
    if (!r.ok) throw new Error(JSON.stringify(r.error))
    s = r.state
  }
  return s
}

const fail =
  (at: number, probeName = 'http', mode: 'enforce' | 'observe' = 'enforce') =>
  (seq: number) =>
    makeEvent('LocalProbeResult', seq, { status: 'fail', at, probeName, mode })
const pass =
  (at: number, probeName = 'http') =>
  (seq: number) =>
    makeEvent('LocalProbeResult', seq, { status: 'pass', at, probeName })

describe('tickVerdict: sustained failure', () => {
  test('fires once an enforce probe has failed for the policy threshold (60 s default)', () => {
    const s = soakingWith(fail(T0 + 2 * MIN), fail(T0 + 2 * MIN + 30_000))
    expect(tickVerdict(s, T0 + 2 * MIN + 59_999, ROLLBACK_POLICY)).toBeUndefined()
    expect(tickVerdict(s, T0 + 3 * MIN, ROLLBACK_POLICY)).toEqual({
      type: 'LocalSustainedFailureCrossed',
      seq: 6,
      failedAt: T0 + 3 * MIN,
      sustainedDurationSecs: 60,
      failingProbes: ['http'],
      policyApplied: 'rollback-and-halt',
    })
  })

  test('the threshold comes from the policy (DECISIONS §3.8)', () => {
    const slow: HostPolicy = { ...HALT_POLICY, sustainedFailureMs: 120_000 }
    const s = soakingWith(fail(T0 + 2 * MIN))
    expect(tickVerdict(s, T0 + 3 * MIN, slow)).toBeUndefined()
    expect(tickVerdict(s, T0 + 4 * MIN, slow)).toMatchObject({
      type: 'LocalSustainedFailureCrossed',
      sustainedDurationSecs: 120,
      policyApplied: 'halt',
    })
  })

  test('a probe that recovered starts a fresh clock when it fails again (fixes spec §9.6)', () => {
    const s = soakingWith(fail(T0 + 2 * MIN), pass(T0 + 2 * MIN + 30_000), fail(T0 + 5 * MIN))
    // 3 min after the first failure ever, but only 30 s into the current run.
    expect(tickVerdict(s, T0 + 5 * MIN + 30_000, ROLLBACK_POLICY)).toBeUndefined()
    expect(tickVerdict(s, T0 + 6 * MIN, ROLLBACK_POLICY)?.type).toBe('LocalSustainedFailureCrossed')
  })

  test('observe probes never fail a host', () => {
    const s = soakingWith(fail(T0 + 2 * MIN, 'disk', 'observe'))
    expect(tickVerdict(s, T0 + 4 * MIN, ROLLBACK_POLICY)).toBeUndefined()
  })

  test('lists every failing enforce probe and reports the longest run', () => {
    const s = soakingWith(fail(T0 + 2 * MIN, 'tcp'), fail(T0 + 2 * MIN + 45_000, 'http'))
    expect(tickVerdict(s, T0 + 3 * MIN + 15_000, ROLLBACK_POLICY)).toMatchObject({
      failingProbes: ['http', 'tcp'],
      sustainedDurationSecs: 75,
    })
  })

  test('failure wins over convergence', () => {
    const s = soakingWith(fail(T0 + 6 * MIN))
    expect(tickVerdict(s, T0 + 10 * MIN, ROLLBACK_POLICY)?.type).toBe(
      'LocalSustainedFailureCrossed'
    )
  })
})

describe('tickVerdict: convergence', () => {
  test('converges once the host soak is due, and step accepts the verdict', () => {
    const s = inPhase('Soaking', 3)
    expect(tickVerdict(s, T0 + 6 * MIN - 1, ROLLBACK_POLICY)).toBeUndefined()
    const v = tickVerdict(s, T0 + 6 * MIN, ROLLBACK_POLICY)
    expect(v).toEqual({
      type: 'LocalConvergedReached',
      seq: 4,
      convergedAt: T0 + 6 * MIN,
      currentClosure: TARGET,
    })
    expect(v && step(s, v, T0, ROLLBACK_POLICY).ok).toBe(true)
  })

  test('waits for declared enforce probes to pass (DECISIONS §3.6)', () => {
    const topo = (seq: number): HostEvent =>
      makeEvent('LocalProbeTopologyDeclared', seq, { probeName: 'http' })
    const declared = soakingWith(topo)
    expect(tickVerdict(declared, T0 + 10 * MIN, ROLLBACK_POLICY)).toBeUndefined()
    const passed = soakingWith(topo, pass(T0 + 7 * MIN))
    expect(tickVerdict(passed, T0 + 10 * MIN, ROLLBACK_POLICY)?.type).toBe('LocalConvergedReached')
  })

  test('does not converge a host whose current closure is not the target', () => {
    const s = { ...inPhase('Soaking', 3), currentClosure: 'something-else' }
    expect(tickVerdict(s, T0 + 10 * MIN, ROLLBACK_POLICY)).toBeUndefined()
  })

  test('says nothing outside Soaking', () => {
    for (const phase of HOST_PHASES.filter((p) => p !== 'Soaking')) {
      expect(tickVerdict(inPhase(phase), T0 + 60 * MIN, ROLLBACK_POLICY)).toBeUndefined()
    }
  })
})

describe('rehydrationEffects (spec §1.10)', () => {
  test('Pending needs nothing; every other state restarts the probe worker', () => {
    expect(HOST_PHASES.map((p) => [p, rehydrationEffects(inPhase(p))])).toEqual([
      ['Pending', []],
      ...HOST_PHASES.filter((p) => p !== 'Pending').map((p) => [
        p,
        [{ type: 'LocalResetProbeCache' as const, rolloutId: 'r1' }],
      ]),
    ])
  })
})
