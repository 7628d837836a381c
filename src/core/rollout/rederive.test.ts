/**
 * Tests of re-derivation and retention: the records rebuilt from a rollout's events equal the
 * records stepped live (lifecycle, supersession, halt), events for unknown rollouts and refused
 * events change nothing; a rollout may be pruned only once finished before the cutoff.
 */
import { describe, expect, test } from 'bun:test'
import type { RolloutEvent } from './events.ts'
import { rederiveRollouts } from './rederive.ts'
import { finishedAt, retentionDue } from './retention.ts'
import type { RolloutRecord } from './state.ts'
import { openRolloutRecord, stepRollout } from './step.ts'

const T = 1_000_000
const A = 'stable@aaa'
const B = 'stable@bbb'

const opened = (rolloutId: string, at: number): RolloutEvent => ({
  type: 'RolloutOpened',
  rolloutId,
  channel: 'stable',
  targetRef: rolloutId.slice(7),
  at,
})
const joined = (rolloutId: string, at: number): RolloutEvent => ({
  type: 'HostJoined',
  rolloutId,
  hostname: 'h1',
  wave: 0,
  at,
})

/** The records after stepping `events` one by one, as the control plane does live. */
function live(events: readonly RolloutEvent[]): Map<string, RolloutRecord> {
  const out = new Map<string, RolloutRecord>()
  for (const e of events) {
    if (e.type === 'RolloutOpened') out.set(e.rolloutId, openRolloutRecord(e))
    else {
      const id = e.type === 'SuccessorOpened' ? e.supersededRolloutId : e.rolloutId
      const r = stepRollout(out.get(id)!, e, e.at)
      if (!r.ok) throw new Error(`refused ${e.type}`)
      out.set(id, r.record)
    }
  }
  return out
}

describe('rederiveRollouts', () => {
  test('a lifecycle to Terminal rebuilds the live record', () => {
    const events: RolloutEvent[] = [
      opened(A, T),
      joined(A, T),
      {
        type: 'HostStateChanged',
        rolloutId: A,
        hostname: 'h1',
        from: 'Pending',
        to: 'Activating',
        at: T + 1,
      },
      {
        type: 'HostStateChanged',
        rolloutId: A,
        hostname: 'h1',
        from: 'Activating',
        to: 'Converged',
        at: T + 2,
      },
      { type: 'RolloutTerminal', rolloutId: A, at: T + 3 },
    ]
    const rebuilt = rederiveRollouts(events)
    expect(rebuilt).toEqual(live(events))
    expect(rebuilt.get(A)).toMatchObject({ phase: 'Terminal', terminalAt: T + 3 })
  })

  test('supersession and a halt round-trip', () => {
    const events: RolloutEvent[] = [
      opened(A, T),
      joined(A, T),
      {
        type: 'HostStateChanged',
        rolloutId: A,
        hostname: 'h1',
        from: 'Activating',
        to: 'Failed',
        at: T + 1,
      },
      opened(B, T + 2),
      { type: 'SuccessorOpened', supersededRolloutId: A, successorRolloutId: B, at: T + 2 },
      joined(B, T + 2),
    ]
    const rebuilt = rederiveRollouts(events)
    expect(rebuilt).toEqual(live(events))
    expect(rebuilt.get(A)).toMatchObject({ phase: 'Superseded', supersededAt: T + 2, halt: null })
    expect(rebuilt.get(B)?.phase).toBe('Active')
  })

  test('events of unknown rollouts and refused events change nothing', () => {
    const rebuilt = rederiveRollouts([
      joined(B, T),
      opened(A, T),
      { type: 'RolloutTerminal', rolloutId: A, at: T + 1 },
    ])
    expect([...rebuilt.keys()]).toEqual([A])
    expect(rebuilt.get(A)).toEqual(
      openRolloutRecord({
        type: 'RolloutOpened',
        rolloutId: A,
        channel: 'stable',
        targetRef: 'aaa',
        at: T,
      })
    )
  })
})

describe('retention', () => {
  const base = openRolloutRecord({
    type: 'RolloutOpened',
    rolloutId: A,
    channel: 'stable',
    targetRef: 'aaa',
    at: T,
  })

  test('open and active rollouts are never due', () => {
    expect(finishedAt(base)).toBeNull()
    expect(retentionDue({ ...base, phase: 'Active' }, T * 10)).toBe(false)
  })

  test('a finished rollout is due once it finished before the cutoff', () => {
    const terminal: RolloutRecord = { ...base, phase: 'Terminal', terminalAt: T + 5 }
    expect(retentionDue(terminal, T + 5)).toBe(false)
    expect(retentionDue(terminal, T + 6)).toBe(true)
    const superseded: RolloutRecord = {
      ...base,
      phase: 'Superseded',
      supersededAt: T + 1,
      terminalAt: T + 9,
    }
    expect(finishedAt(superseded)).toBe(T + 1)
    const halted: RolloutRecord = {
      ...base,
      phase: 'Failed',
      halt: { at: T + 2, hostname: 'h1', hostPhase: 'Failed' },
    }
    expect(retentionDue(halted, T + 3)).toBe(true)
  })

  test('a resumed Failed rollout is kept (no finishing time)', () => {
    expect(retentionDue({ ...base, phase: 'Reverted' }, Number.MAX_SAFE_INTEGER)).toBe(false)
  })
})
