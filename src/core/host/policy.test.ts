import { describe, expect, test } from 'bun:test'
import type { FleetView, RolloutPolicy } from '../types.ts'
import { resolveHostPolicy, sustainedFailureMsOf } from './policy.ts'

function fleet(policy: RolloutPolicy, waves: FleetView['waves'] = {}): FleetView {
  return {
    hosts: {},
    channels: { stable: { rolloutPolicy: 'canary' } },
    rolloutPolicies: { canary: policy },
    waves,
    edges: [],
    channelEdges: [],
  }
}

describe('resolveHostPolicy', () => {
  test('takes the soak of the host wave from the policy and the threshold from the health gate', () => {
    const f = fleet({
      strategy: 'canary',
      waves: [{ soakMinutes: 5 }, { soakMinutes: 30 }],
      healthGate: { sustainedFailureSecs: 90 },
      onHealthFailure: 'halt',
    })
    expect(resolveHostPolicy(f, 'stable', 1)).toEqual({
      onHealthFailure: 'halt',
      soakMs: 30 * 60_000,
      sustainedFailureMs: 90_000,
    })
  })

  test('falls back to the resolved waves, then 0 for all-at-once, then 60 minutes', () => {
    const base = { healthGate: {}, onHealthFailure: 'rollback-and-halt' as const }
    const resolved = fleet(
      { ...base, strategy: 'canary', waves: [] },
      {
        stable: [{ hosts: ['a'], soakMinutes: 7 }],
      }
    )
    expect(resolveHostPolicy(resolved, 'stable', 0)?.soakMs).toBe(7 * 60_000)
    const allAtOnce = fleet({ ...base, strategy: 'all-at-once', waves: [] })
    expect(resolveHostPolicy(allAtOnce, 'stable', 0)?.soakMs).toBe(0)
    const unknown = fleet({ ...base, strategy: 'canary', waves: [] })
    expect(resolveHostPolicy(unknown, 'stable', 3)?.soakMs).toBe(60 * 60_000)
  })

  test('is undefined for an unknown channel or policy', () => {
    const f = fleet({ strategy: 'canary', waves: [], onHealthFailure: 'halt' })
    expect(resolveHostPolicy(f, 'edge', 0)).toBeUndefined()
    expect(
      resolveHostPolicy({ ...f, channels: { stable: { rolloutPolicy: 'nope' } } }, 'stable', 0)
    ).toBeUndefined()
  })

  test('the sustained-failure threshold defaults to 60 s and ignores nonsense', () => {
    for (const gate of [
      undefined,
      null,
      {},
      { sustainedFailureSecs: 0 },
      { sustainedFailureSecs: 'x' },
    ]) {
      expect(sustainedFailureMsOf(gate)).toBe(60_000)
    }
    expect(sustainedFailureMsOf({ sustainedFailureSecs: 15 })).toBe(15_000)
  })
})
