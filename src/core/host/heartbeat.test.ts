/**
 * Tests of heartbeat synthesis: which records a heartbeat completes, converges or leaves to the
 * planner; that the synthesized events are legal steps that carry a Pending host to Converged;
 * and the replay points.
 */
import { describe, expect, test } from 'bun:test'
import { openRolloutRecord } from '../rollout/step.ts'
import { inPhase, MIN, pending, PRIOR, ROLLBACK_POLICY, T0, TARGET } from './fixtures.ts'
import {
  atTarget,
  convergenceAllowed,
  heartbeatSynthesis,
  replayFrom,
  synthesizedActivation,
  synthesisPolicy,
  synthesizedConverged,
  verdictAllowsConvergence,
} from './heartbeat.ts'
import type { HostPhase, HostRolloutState } from './state.ts'
import { step } from './step.ts'

const AT = T0 + 10 * MIN
const hb = (closure: string | null, seq?: number) => ({
  closure,
  seqs: seq === undefined ? {} : { r1: seq },
})

describe('atTarget', () => {
  test('the target closure and no event past the record', () => {
    const rec = inPhase('Activating', 3)
    expect(atTarget(hb(TARGET), rec)).toBe(true)
    expect(atTarget(hb(TARGET, 3), rec)).toBe(true)
    expect(atTarget(hb(TARGET, 4), rec)).toBe(false)
    expect(atTarget(hb(PRIOR), rec)).toBe(false)
    expect(atTarget(hb(null), rec)).toBe(false)
    expect(atTarget({ closure: TARGET, seqs: { other: 9 } }, rec)).toBe(true)
  })
})

describe('heartbeatSynthesis', () => {
  test('an Activating or Deferred host at its target completes its activation', () => {
    for (const phase of ['Activating', 'Deferred'] as const) {
      const rec = inPhase(phase, 3)
      const r = heartbeatSynthesis(rec, hb(TARGET), AT, undefined)
      expect(r).toEqual({
        type: 'complete',
        event: {
          type: 'RemoteActivationCompleted',
          seq: 4,
          observedCurrentClosure: TARGET,
          exitCode: 0,
          completedAt: AT,
        },
      })
      if (r.type === 'complete') expect(step(rec, r.event, AT, ROLLBACK_POLICY).ok).toBe(true)
    }
  })

  test('a Pending host converges only when the planner would dispatch it', () => {
    expect(heartbeatSynthesis(pending(), hb(TARGET), AT, 'queue')).toEqual({ type: 'converge' })
    expect(heartbeatSynthesis(pending(), hb(TARGET), AT, 'disruption-budget')).toEqual({
      type: 'converge',
    })
    expect(heartbeatSynthesis(pending(), hb(TARGET), AT, 'wave-promotion')).toEqual({
      type: 'replan',
    })
    expect(heartbeatSynthesis(pending(), hb(TARGET), AT, undefined)).toEqual({ type: 'replan' })
    expect(verdictAllowsConvergence('halted')).toBe(false)
  })

  test('nothing off target, with events the CP lacks, or in a settled phase', () => {
    expect(heartbeatSynthesis(inPhase('Activating', 3), hb(PRIOR), AT, 'queue')).toEqual({
      type: 'none',
    })
    expect(heartbeatSynthesis(inPhase('Activating', 3), hb(TARGET, 5), AT, 'queue')).toEqual({
      type: 'none',
    })
    for (const phase of ['Soaking', 'Converged', 'Failed', 'Reverted'] as HostPhase[]) {
      expect(heartbeatSynthesis(inPhase(phase, 3), hb(TARGET), AT, 'queue')).toEqual({
        type: 'none',
      })
    }
  })
})

describe('convergence synthesis', () => {
  const open = openRolloutRecord({
    type: 'RolloutOpened',
    rolloutId: 'r1',
    channel: 'stable',
    targetRef: 'abc',
    at: T0,
  })
  const active = { ...open, phase: 'Active' as const }

  test('allowed for a Pending host of an open rollout that is not halted', () => {
    expect(convergenceAllowed(pending(), active)).toBe(true)
    expect(convergenceAllowed(pending(), undefined)).toBe(false)
    expect(convergenceAllowed(pending(), { ...active, phase: 'Terminal' })).toBe(false)
    expect(
      convergenceAllowed(pending(), {
        ...active,
        phase: 'Failed',
        halt: { at: T0, hostname: 'x', hostPhase: 'Failed' },
      })
    ).toBe(false)
    expect(convergenceAllowed(inPhase('Activating'), active)).toBe(false)
  })

  test('the synthesized events step a Pending host to Converged at the heartbeat, never later', () => {
    const policy = synthesisPolicy(ROLLBACK_POLICY)
    expect(policy.soakMs).toBe(0)
    let rec: HostRolloutState = pending()
    for (const ev of synthesizedActivation(rec, AT)) {
      const r = step(rec, ev, AT, policy)
      if (!r.ok) throw new Error(r.error.type)
      rec = r.state
    }
    expect(rec.phase).toBe('Soaking')
    expect(rec.lastEventSeq).toBe(2)
    const converged = synthesizedConverged(rec, AT)
    expect(converged).toEqual({
      type: 'RemoteConverged',
      seq: 3,
      convergedAt: AT,
      currentClosure: TARGET,
    })
    const r = step(rec, converged, AT, policy)
    expect(r.ok && r.state.phase).toBe('Converged')
  })
})

describe('replayFrom', () => {
  test('the record last seq when the agent is ahead or runs another closure', () => {
    const rec = inPhase('Soaking', 3)
    expect(replayFrom(rec, 5, null)).toBe(3)
    expect(replayFrom(rec, 3, TARGET)).toBeNull()
    expect(replayFrom(rec, undefined, PRIOR)).toBe(3)
    expect(replayFrom(rec, undefined, null)).toBeNull()
  })
})
