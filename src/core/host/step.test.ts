/**
 * The host state machine against the spec's §8 scenarios and unit checks, our documented
 * differences (DECISIONS §3) and record details.
 * Over 400 lines: the spec's scenario list, kept in one file in the spec's order.
 */
import { describe, expect, test } from 'bun:test'
import type { HostEvent } from './events.ts'
import {
  HALT_POLICY,
  inPhase,
  makeEvent,
  MIN,
  pending,
  PRIOR,
  ROLLBACK_POLICY,
  T0,
  TARGET,
} from './fixtures.ts'
import type { HostPolicy, HostRolloutState } from './state.ts'
import { step, type HostStepResult } from './step.ts'

/** Steps and insists on success, so a scenario reads as a sequence of facts. */
function must(
  state: HostRolloutState,
  event: HostEvent,
  policy: HostPolicy = ROLLBACK_POLICY
): Extract<HostStepResult, { ok: true }> {
  const r = step(state, event, T0, policy)
  if (!r.ok) throw new Error(`step refused ${event.type}: ${JSON.stringify(r.error)}`)
  return r
}

/** A record soaking since t0+1m (soak due t0+6m) reached through `step` itself. */
function soaking(policy: HostPolicy = ROLLBACK_POLICY): HostRolloutState {
  const a = must(pending(), makeEvent('LocalActivate', 1, { at: T0 }), policy)
  return must(a.state, makeEvent('LocalActivationCompleted', 2, { at: T0 + MIN }), policy).state
}

describe('spec §8.1 scenarios', () => {
  test('happy path Pending → Activating → Soaking → Converged', () => {
    const a = must(pending(), makeEvent('LocalActivate', 1, { at: T0 }))
    expect(a.state.phase).toBe('Activating')
    const s = must(a.state, makeEvent('LocalActivationCompleted', 2, { at: T0 + MIN }))
    expect(s.state.phase).toBe('Soaking')
    expect(s.state.currentClosure).toBe(TARGET)
    const c = must(s.state, makeEvent('LocalConvergedReached', 3, { at: T0 + 6 * MIN }))
    expect(c.state).toEqual({
      ...pending(),
      phase: 'Converged',
      currentClosureAtDispatch: PRIOR,
      currentClosure: TARGET,
      dispatchAckedAt: T0,
      activationCompletedAt: T0 + MIN,
      soakDueAt: T0 + 6 * MIN,
      convergedAt: T0 + 6 * MIN,
      lastEventSeq: 3,
    })
    expect(c.effects).toEqual([
      {
        type: 'LocalEmitEvent',
        rolloutId: 'r1',
        durable: true,
        payload: { kind: 'Converged', seq: 3, convergedAt: T0 + 6 * MIN, currentClosure: TARGET },
      },
      {
        type: 'RecordTransition',
        hostname: 'web-01',
        rolloutId: 'r1',
        from: 'Soaking',
        to: 'Converged',
        at: T0 + 6 * MIN,
      },
    ])
  })

  test('sustained failure under rollback-and-halt rolls back to the prior closure, then Reverted', () => {
    const f = must(soaking(), makeEvent('LocalSustainedFailureCrossed', 3, { at: T0 + 3 * MIN }))
    expect(f.state.phase).toBe('Failed')
    expect(f.state.policyApplied).toBe('rollback-and-halt')
    expect(f.state.failedAt).toBe(T0 + 3 * MIN)
    expect(f.effects.map((e) => e.type)).toEqual([
      'LocalEmitEvent',
      'RecordTransition',
      'LocalFireRollbackTo',
    ])
    expect(f.effects[2]).toEqual({ type: 'LocalFireRollbackTo', rolloutId: 'r1', closure: PRIOR })
    const r = must(f.state, makeEvent('LocalRollbackCompleted', 4, { at: T0 + 4 * MIN }))
    expect(r.state).toEqual({ ...inPhase('Reverted', 4), failedAt: T0 + 3 * MIN })
  })

  test('sustained failure under halt does not fire a rollback', () => {
    const f = must(
      soaking(HALT_POLICY),
      makeEvent('LocalSustainedFailureCrossed', 3, { policy: 'halt' }),
      HALT_POLICY
    )
    expect(f.state.phase).toBe('Failed')
    expect(f.state.policyApplied).toBe('halt')
    expect(f.effects.map((e) => e.type)).toEqual(['LocalEmitEvent', 'RecordTransition'])
  })

  test('convergence with the wrong closure is an Invariant error', () => {
    const r = step(
      soaking(),
      makeEvent('LocalConvergedReached', 3, { at: T0 + 7 * MIN, closure: 'other' }),
      T0,
      ROLLBACK_POLICY
    )
    expect(r).toEqual({
      ok: false,
      error: {
        type: 'Invariant',
        event: 'LocalConvergedReached',
        violations: [`current closure other is not the target ${TARGET}`],
        rolloutId: 'r1',
        hostname: 'web-01',
      },
    })
  })

  test('activation failure under rollback-and-halt fires the rollback immediately', () => {
    const a = must(pending(), makeEvent('LocalActivate', 1))
    const f = must(a.state, makeEvent('LocalActivationFailed', 2, { at: T0 + MIN }))
    expect(f.state).toMatchObject({
      phase: 'Failed',
      activationFailedAt: T0 + MIN,
      failedAt: T0 + MIN,
      policyApplied: 'rollback-and-halt',
    })
    expect(f.effects).toContainEqual({
      type: 'LocalFireRollbackTo',
      rolloutId: 'r1',
      closure: PRIOR,
    })
  })

  test('a probe result updates the probe map without a state change', () => {
    const s = soaking()
    expect(s.probes).toEqual({})
    const r = must(s, makeEvent('LocalProbeResult', 3, { at: T0 + 2 * MIN }))
    expect(r.state.phase).toBe('Soaking')
    expect(r.state.probes).toEqual({
      http: {
        status: 'pass',
        mode: 'enforce',
        lastObservedAt: T0 + 2 * MIN,
        lastPassAt: T0 + 2 * MIN,
        failingSince: null,
        failureReason: null,
      },
    })
    expect(r.effects).toHaveLength(1)
    expect(r.effects[0]).toMatchObject({ type: 'LocalEmitEvent', payload: { kind: 'ProbeResult' } })
  })

  test('LocalActivationDeferred moves to Deferred and emits a durable outbound event', () => {
    const a = must(pending(), makeEvent('LocalActivate', 1))
    const d = must(a.state, makeEvent('LocalActivationDeferred', 2, { at: T0 + MIN }))
    expect(d.state).toEqual({ ...inPhase('Deferred', 2) })
    expect(d.state.currentClosure).toBeNull()
    expect(d.state.activationCompletedAt).toBeNull()
    expect(d.effects).toEqual([
      {
        type: 'LocalEmitEvent',
        rolloutId: 'r1',
        durable: true,
        payload: { kind: 'ActivationDeferred', seq: 2, component: 'systemd', deferredAt: T0 + MIN },
      },
      {
        type: 'RecordTransition',
        hostname: 'web-01',
        rolloutId: 'r1',
        from: 'Activating',
        to: 'Deferred',
        at: T0 + MIN,
      },
    ])
  })

  test('RemoteActivationDeferred moves to Deferred and appends to the event log', () => {
    const a = must(pending(), makeEvent('RemoteDispatchAck', 1))
    const event: HostEvent = {
      type: 'RemoteActivationDeferred',
      seq: 2,
      component: 'dbus',
      deferredAt: T0 + MIN,
    }
    const d = must(a.state, event)
    expect(d.state.phase).toBe('Deferred')
    expect(d.effects).toEqual([
      {
        type: 'RemoteAppendEventLog',
        hostname: 'web-01',
        rolloutId: 'r1',
        payload: { kind: 'ActivationDeferred', seq: 2, component: 'dbus', deferredAt: T0 + MIN },
      },
      {
        type: 'RecordTransition',
        hostname: 'web-01',
        rolloutId: 'r1',
        from: 'Activating',
        to: 'Deferred',
        at: T0 + MIN,
      },
    ])
  })

  test('Deferred then a synthesized completion advances to Soaking', () => {
    const r = must(
      inPhase('Deferred', 2),
      makeEvent('RemoteActivationCompleted', 3, { at: T0 + 9 * MIN })
    )
    expect(r.state).toMatchObject({
      phase: 'Soaking',
      currentClosure: TARGET,
      activationCompletedAt: T0 + 9 * MIN,
      lastEventSeq: 3,
    })
  })

  test('a local probe result threads sub-results verbatim to the outbound event', () => {
    const subResults = [
      {
        controlId: 'ANSSI-R12',
        status: 'fail' as const,
        framework: 'anssi-bp028',
        article: 'R12',
        effectiveMode: 'enforce' as const,
        overrideReason: null,
      },
      {
        controlId: 'NIS2-21',
        status: 'pass' as const,
        framework: 'nis2',
        article: null,
        effectiveMode: 'observe' as const,
        overrideReason: 'waived until Q3',
      },
    ]
    const event: HostEvent = {
      type: 'LocalProbeResult',
      seq: 3,
      probeName: 'evidence',
      mode: 'enforce',
      status: 'fail',
      observedAt: T0 + 2 * MIN,
      failureReason: '1 control failing',
      subResults,
    }
    const r = must(soaking(), event)
    expect(r.effects).toEqual([
      {
        type: 'LocalEmitEvent',
        rolloutId: 'r1',
        durable: true,
        payload: {
          kind: 'ProbeResult',
          seq: 3,
          probeName: 'evidence',
          mode: 'enforce',
          status: 'fail',
          observedAt: T0 + 2 * MIN,
          failureReason: '1 control failing',
          subResults,
        },
      },
    ])
  })
})

describe('spec §8.2 unit checks', () => {
  test('LocalActivate effects are [RecordTransition, LocalEmitEvent(DispatchAck), LocalFireSwitch]', () => {
    const r = must(pending(), makeEvent('LocalActivate', 1, { at: T0 + 1000 }))
    expect(r.state).toEqual({ ...inPhase('Activating', 1), dispatchAckedAt: T0 + 1000 })
    expect(r.effects).toEqual([
      {
        type: 'RecordTransition',
        hostname: 'web-01',
        rolloutId: 'r1',
        from: 'Pending',
        to: 'Activating',
        at: T0 + 1000,
      },
      {
        type: 'LocalEmitEvent',
        rolloutId: 'r1',
        durable: true,
        payload: {
          kind: 'DispatchAck',
          seq: 1,
          currentClosureAtDispatch: PRIOR,
          receivedAt: T0 + 1000,
        },
      },
      { type: 'LocalFireSwitch', rolloutId: 'r1', target: TARGET },
    ])
  })

  test('RemoteDispatchAck effects are [RemoteAppendEventLog, RecordTransition]', () => {
    const r = must(pending(), makeEvent('RemoteDispatchAck', 1))
    expect(r.effects.map((e) => e.type)).toEqual(['RemoteAppendEventLog', 'RecordTransition'])
    expect(r.state.currentClosureAtDispatch).toBe(PRIOR)
  })

  test('ActivationCompleted emits LocalResetProbeCache before the report and the transition', () => {
    const a = must(pending(), makeEvent('LocalActivate', 1))
    const r = must(a.state, makeEvent('LocalActivationCompleted', 2, { at: T0 + MIN }))
    expect(r.effects.map((e) => e.type)).toEqual([
      'LocalResetProbeCache',
      'LocalEmitEvent',
      'RecordTransition',
    ])
    expect(r.effects[0]).toEqual({ type: 'LocalResetProbeCache', rolloutId: 'r1' })
  })

  test('RemoteRollbackComplete quarantines the target closure on the host channel', () => {
    const r = must(inPhase('Failed'), makeEvent('RemoteRollbackComplete', 4, { at: T0 + 4 * MIN }))
    expect(r.state.phase).toBe('Reverted')
    expect(r.effects).toEqual([
      {
        type: 'RemoteAppendEventLog',
        hostname: 'web-01',
        rolloutId: 'r1',
        payload: {
          kind: 'RollbackComplete',
          seq: 4,
          revertedToClosure: PRIOR,
          exitCode: 0,
          completedAt: T0 + 4 * MIN,
        },
      },
      { type: 'RemoteInsertQuarantine', channel: 'stable', closure: TARGET },
      {
        type: 'RecordTransition',
        hostname: 'web-01',
        rolloutId: 'r1',
        from: 'Failed',
        to: 'Reverted',
        at: T0 + 4 * MIN,
      },
    ])
  })

  test('LocalRollbackCompleted does not quarantine (the CP does, on the remote side)', () => {
    const r = must(inPhase('Failed'), makeEvent('LocalRollbackCompleted', 4))
    expect(r.effects.map((e) => e.type)).toEqual(['LocalEmitEvent', 'RecordTransition'])
  })

  test('convergence before soak due is rejected', () => {
    const r = step(
      soaking(),
      makeEvent('LocalConvergedReached', 3, { at: T0 + 2 * MIN }),
      T0,
      ROLLBACK_POLICY
    )
    expect(r.ok).toBe(false)
    if (!r.ok)
      expect(r.error).toMatchObject({
        type: 'Invariant',
        violations: ['soak not elapsed (240 s left)'],
      })
  })

  test('convergence with a failing observe probe is accepted', () => {
    const s = must(
      soaking(),
      makeEvent('LocalProbeResult', 3, { status: 'fail', mode: 'observe' })
    ).state
    const r = step(
      s,
      makeEvent('LocalConvergedReached', 4, { at: T0 + 6 * MIN }),
      T0,
      ROLLBACK_POLICY
    )
    expect(r.ok).toBe(true)
  })

  test('convergence with a failing enforce probe is rejected', () => {
    const s = must(soaking(), makeEvent('LocalProbeResult', 3, { status: 'fail' })).state
    const r = step(s, makeEvent('RemoteConverged', 4, { at: T0 + 6 * MIN }), T0, ROLLBACK_POLICY)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error).toMatchObject({ violations: ['enforce probes failing: http'] })
  })
})

describe('DECISIONS §3 differences from the reference', () => {
  test('soak measured from own activation (DECISIONS §3.5)', () => {
    // Activation completes 30 min after dispatch; the reference's open-time soak (t0+5m) would
    // already have elapsed, ours runs until t0+35m.
    const a = must(pending(), makeEvent('LocalActivate', 1))
    const s = must(a.state, makeEvent('LocalActivationCompleted', 2, { at: T0 + 30 * MIN }))
    expect(s.state.soakDueAt).toBe(T0 + 35 * MIN)
    const early = step(
      s.state,
      makeEvent('LocalConvergedReached', 3, { at: T0 + 31 * MIN }),
      T0,
      ROLLBACK_POLICY
    )
    expect(early).toMatchObject({
      ok: false,
      error: { violations: ['soak not elapsed (240 s left)'] },
    })
    expect(
      step(
        s.state,
        makeEvent('LocalConvergedReached', 3, { at: T0 + 35 * MIN }),
        T0,
        ROLLBACK_POLICY
      ).ok
    ).toBe(true)
  })

  test('convergence waits for every declared enforce probe to pass (DECISIONS §3.6)', () => {
    const topo: HostEvent = {
      type: 'RemoteProbeTopologyDeclared',
      seq: 3,
      declaredAt: T0 + MIN,
      probes: [
        { probeName: 'http', kind: 'http', mode: 'enforce' },
        { probeName: 'tcp', kind: 'tcp', mode: 'enforce' },
        { probeName: 'disk', kind: 'exec', mode: 'observe' },
      ],
    }
    let s = must(soaking(), topo).state
    const late = T0 + 10 * MIN
    expect(
      step(s, makeEvent('RemoteConverged', 4, { at: late }), T0, ROLLBACK_POLICY)
    ).toMatchObject({
      ok: false,
      error: { violations: ['enforce probes not yet passed since activation: http, tcp'] },
    })
    s = must(s, makeEvent('RemoteProbeResult', 4, { probeName: 'http' })).state
    s = must(s, makeEvent('RemoteProbeResult', 5, { probeName: 'tcp' })).state
    // The observe probe never reported: it does not gate convergence.
    expect(step(s, makeEvent('RemoteConverged', 6, { at: late }), T0, ROLLBACK_POLICY).ok).toBe(
      true
    )
  })

  test('with no probes declared, soak alone suffices (DECISIONS §3.6)', () => {
    const s = soaking()
    expect(s.probeTopology).toBeNull()
    expect(
      step(s, makeEvent('LocalConvergedReached', 3, { at: T0 + 6 * MIN }), T0, ROLLBACK_POLICY).ok
    ).toBe(true)
  })

  test('a probe that passed and then fails blocks convergence again (DECISIONS §3.6)', () => {
    let s = must(soaking(), makeEvent('LocalProbeResult', 3, { status: 'pass' })).state
    s = must(s, makeEvent('LocalProbeResult', 4, { status: 'fail', at: T0 + 5 * MIN })).state
    expect(
      step(s, makeEvent('LocalConvergedReached', 5, { at: T0 + 7 * MIN }), T0, ROLLBACK_POLICY).ok
    ).toBe(false)
  })

  test('Deferred → Failed applies the policy like Activating → Failed (DECISIONS §3.4)', () => {
    const r = must(
      inPhase('Deferred', 2),
      makeEvent('LocalActivationFailed', 3, { at: T0 + 8 * MIN })
    )
    expect(r.state).toMatchObject({
      phase: 'Failed',
      policyApplied: 'rollback-and-halt',
      activationFailedAt: T0 + 8 * MIN,
      failedAt: T0 + 8 * MIN,
    })
    expect(r.effects).toContainEqual({
      type: 'LocalFireRollbackTo',
      rolloutId: 'r1',
      closure: PRIOR,
    })
    const h = must(inPhase('Deferred', 2), makeEvent('RemoteActivationFailed', 3), HALT_POLICY)
    expect(h.state.policyApplied).toBe('halt')
    expect(h.effects.map((e) => e.type)).toEqual(['RemoteAppendEventLog', 'RecordTransition'])
  })

  test('rollback targets current_closure_at_dispatch (DECISIONS §3.7)', () => {
    const a = must(pending(), {
      ...makeEvent('LocalActivate', 1),
      currentClosureAtDispatch: 'gen-41',
    } as HostEvent)
    const s = must(a.state, makeEvent('LocalActivationCompleted', 2, { at: T0 + MIN }))
    const f = must(s.state, makeEvent('LocalSustainedFailureCrossed', 3))
    expect(f.effects).toContainEqual({
      type: 'LocalFireRollbackTo',
      rolloutId: 'r1',
      closure: 'gen-41',
    })
  })

  test('no rollback when the prior closure is the target itself (reference agents report it so)', () => {
    const a = must(pending(), {
      ...makeEvent('LocalActivate', 1),
      currentClosureAtDispatch: TARGET,
    } as HostEvent)
    const f = must(a.state, makeEvent('LocalActivationFailed', 2))
    expect(f.state.phase).toBe('Failed')
    expect(f.effects.map((e) => e.type)).toEqual(['LocalEmitEvent', 'RecordTransition', 'EmitLog'])
    expect(f.effects[2]).toMatchObject({ level: 'warn', fields: { prior: TARGET } })
  })

  test('RemoteFailed records the policy the agent applied', () => {
    const r = must(inPhase('Soaking'), makeEvent('RemoteFailed', 4, { policy: 'halt' }))
    expect(r.state.policyApplied).toBe('halt')
    expect(r.effects.map((e) => e.type)).toEqual(['RemoteAppendEventLog', 'RecordTransition'])
  })
})

describe('host record details', () => {
  test('a dispatch naming another target is refused, not acted on', () => {
    const r = step(
      pending(),
      makeEvent('LocalActivate', 1, { closure: 'evil' }),
      T0,
      ROLLBACK_POLICY
    )
    expect(r).toMatchObject({ ok: false, error: { type: 'Invariant', event: 'LocalActivate' } })
  })

  test('activation completion clears probes and topology and starts the host soak', () => {
    const withProbes: HostRolloutState = {
      ...inPhase('Deferred', 2),
      probes: {
        old: {
          status: 'fail',
          mode: 'enforce',
          lastObservedAt: 1,
          lastPassAt: null,
          failingSince: 1,
          failureReason: 'x',
        },
      },
      probeTopology: [{ probeName: 'old', kind: 'http', mode: 'enforce' }],
    }
    const r = must(withProbes, makeEvent('LocalActivationCompleted', 3, { at: T0 + 20 * MIN }))
    expect(r.state.probes).toEqual({})
    expect(r.state.probeTopology).toBeNull()
    expect(r.state.soakDueAt).toBe(T0 + 25 * MIN)
  })

  test('failingSince spans consecutive failures and resets on a pass', () => {
    let s = soaking()
    s = must(s, makeEvent('LocalProbeResult', 3, { status: 'fail', at: T0 + 2 * MIN })).state
    s = must(s, makeEvent('LocalProbeResult', 4, { status: 'fail', at: T0 + 3 * MIN })).state
    expect(s.probes['http']).toEqual({
      status: 'fail',
      mode: 'enforce',
      lastObservedAt: T0 + 3 * MIN,
      lastPassAt: null,
      failingSince: T0 + 2 * MIN,
      failureReason: 'connection refused',
    })
    s = must(s, makeEvent('LocalProbeResult', 5, { status: 'pass', at: T0 + 4 * MIN })).state
    expect(s.probes['http']?.failingSince).toBeNull()
    s = must(s, makeEvent('LocalProbeResult', 6, { status: 'fail', at: T0 + 5 * MIN })).state
    expect(s.probes['http']).toMatchObject({ failingSince: T0 + 5 * MIN, lastPassAt: T0 + 4 * MIN })
  })

  test('probe results are durable on first report and on status change only', () => {
    const first = must(soaking(), makeEvent('LocalProbeResult', 3, { status: 'pass' }))
    const same = must(first.state, makeEvent('LocalProbeResult', 4, { status: 'pass' }))
    const flip = must(same.state, makeEvent('LocalProbeResult', 5, { status: 'fail' }))
    const durable = [first, same, flip].map((r) => {
      const e = r.effects[0]
      return e?.type === 'LocalEmitEvent' ? e.durable : undefined
    })
    expect(durable).toEqual([true, false, true])
  })

  test('first-observation and first-failure stamps are set once', () => {
    let s = soaking()
    s = must(s, makeEvent('LocalProbeObservedFirst', 3, { at: T0 + 2 * MIN })).state
    s = must(s, makeEvent('LocalProbeObservedFirst', 4, { at: T0 + 3 * MIN })).state
    s = must(s, makeEvent('LocalProbeFailureFirst', 5, { at: T0 + 4 * MIN })).state
    s = must(s, makeEvent('RemoteProbeFailureFirst', 6, { at: T0 + 5 * MIN })).state
    expect([s.probeObservedFirstAt, s.probeFailureFirstAt]).toEqual([T0 + 2 * MIN, T0 + 4 * MIN])
  })

  test('a failed step leaves the input untouched', () => {
    const s = inPhase('Soaking')
    const before = structuredClone(s)
    step(s, makeEvent('LocalConvergedReached', 4, { closure: 'bad' }), T0, ROLLBACK_POLICY)
    must(s, makeEvent('LocalProbeResult', 4))
    expect(s).toEqual(before)
  })
})
