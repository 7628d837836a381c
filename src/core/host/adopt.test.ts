/**
 * Adopting a CP snapshot: every refusal, a record rebuilt from nothing, and a local record moved
 * forward with its agent-local fields kept.
 */
import { describe, expect, test } from 'bun:test'
import {
  adoptSnapshot,
  type HostSnapshot,
  type SnapshotAdoption,
  type SnapshotRefusal,
} from './adopt.ts'
import { MIN, PRIOR, T0, TARGET, pending } from './fixtures.ts'
import type { HostRolloutState } from './state.ts'

const snapshot = (over: Partial<HostSnapshot> = {}): HostSnapshot => ({
  rolloutId: 'r1',
  hostname: 'web-01',
  channel: 'stable',
  phase: 'Soaking',
  targetClosure: TARGET,
  currentClosureAtDispatch: PRIOR,
  currentClosure: TARGET,
  dispatchedAt: T0,
  dispatchAckedAt: T0 + 1,
  activationStartedAt: null,
  activationCompletedAt: T0 + 2,
  soakDueAt: T0 + 5 * MIN,
  lastEventSeq: 4,
  ...over,
})

const activating = (over: Partial<HostRolloutState> = {}): HostRolloutState => ({
  ...pending(),
  phase: 'Activating',
  currentClosureAtDispatch: PRIOR,
  dispatchAckedAt: T0 + 1,
  lastEventSeq: 1,
  ...over,
})

const refusal = (reason: SnapshotRefusal): SnapshotAdoption => ({ adopt: false, reason })

describe('refusals', () => {
  test('a snapshot of another host', () => {
    const snap = snapshot({ hostname: 'web-02' })
    expect(
      adoptSnapshot({ hostname: 'web-01', local: undefined, snapshot: snap, signedTarget: TARGET })
    ).toEqual(refusal('other-host'))
  })

  test('a snapshot at or behind the local record', () => {
    for (const lastEventSeq of [1, 2]) {
      const local = activating({ lastEventSeq: 2 })
      expect(
        adoptSnapshot({
          hostname: 'web-01',
          local,
          snapshot: snapshot({ lastEventSeq }),
          signedTarget: undefined,
        })
      ).toEqual(refusal('not-ahead'))
    }
  })

  test('a snapshot for another target than the local record', () => {
    const snap = snapshot({ targetClosure: 'other-closure' })
    expect(
      adoptSnapshot({
        hostname: 'web-01',
        local: activating(),
        snapshot: snap,
        signedTarget: undefined,
      })
    ).toEqual(refusal('target-differs'))
  })

  test('without a local record: nothing to resume, or not the signed target', () => {
    for (const phase of ['Pending', 'Converged', 'Reverted'] as const) {
      const snap = snapshot({ phase })
      expect(
        adoptSnapshot({
          hostname: 'web-01',
          local: undefined,
          snapshot: snap,
          signedTarget: TARGET,
        })
      ).toEqual(refusal('nothing-to-resume'))
    }
    for (const signedTarget of [undefined, 'other-closure']) {
      expect(
        adoptSnapshot({ hostname: 'web-01', local: undefined, snapshot: snapshot(), signedTarget })
      ).toEqual(refusal('not-signed-target'))
    }
  })
})

describe('adoption', () => {
  test('a lost record is rebuilt from the snapshot of the signed target; its prior comes from the CP', () => {
    const d = adoptSnapshot({
      hostname: 'web-01',
      local: undefined,
      snapshot: snapshot(),
      signedTarget: TARGET,
    })
    expect(d).toEqual({
      adopt: true,
      priorFromCp: true,
      state: {
        ...pending(),
        phase: 'Soaking',
        currentClosureAtDispatch: PRIOR,
        currentClosure: TARGET,
        dispatchAckedAt: T0 + 1,
        activationCompletedAt: T0 + 2,
        soakDueAt: T0 + 5 * MIN,
        lastEventSeq: 4,
      },
    })
  })

  test('a local record moves forward: canonical fields adopted, agent-local ones kept, probes cleared on a phase change', () => {
    const local = activating({
      activationStartedAt: T0 + 1,
      probeTopology: [{ probeName: 'http', kind: 'http', mode: 'enforce' }],
      probes: {
        http: {
          status: 'pass',
          mode: 'enforce',
          lastObservedAt: T0,
          lastPassAt: T0,
          failingSince: null,
          failureReason: null,
        },
      },
    })
    const d = adoptSnapshot({
      hostname: 'web-01',
      local,
      snapshot: snapshot({
        currentClosureAtDispatch: 'cp-prior',
        activationStartedAt: null,
        lastEventSeq: 3,
      }),
      signedTarget: undefined,
    })
    expect(d.adopt).toBe(true)
    if (!d.adopt) return
    expect(d.priorFromCp).toBe(false)
    expect(d.state).toEqual({
      ...local,
      phase: 'Soaking',
      currentClosureAtDispatch: PRIOR, // the host's own record wins
      currentClosure: TARGET,
      activationStartedAt: T0 + 1, // absent from the snapshot: kept
      activationCompletedAt: T0 + 2,
      soakDueAt: T0 + 5 * MIN,
      lastEventSeq: 3,
      probeTopology: null,
      probes: {},
    })
  })

  test('the same phase keeps the probe state', () => {
    const local = activating({ probeTopology: [] })
    const d = adoptSnapshot({
      hostname: 'web-01',
      local,
      snapshot: snapshot({ phase: 'Activating', lastEventSeq: 2 }),
      signedTarget: undefined,
    })
    expect(d.adopt && d.state.probeTopology).toEqual([])
  })

  test("a local record without a prior takes the CP's and marks it", () => {
    const local = activating({ currentClosureAtDispatch: null })
    const d = adoptSnapshot({
      hostname: 'web-01',
      local,
      snapshot: snapshot(),
      signedTarget: undefined,
    })
    expect(d).toMatchObject({
      adopt: true,
      priorFromCp: true,
      state: { currentClosureAtDispatch: PRIOR },
    })
  })
})
