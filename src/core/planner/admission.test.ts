/**
 * Tests of dispatch admission: synthesis before dispatch for a host at its target, no double
 * queueing, redelivery only after its delay, the startup hold until the first heartbeat (with
 * the seconds left), and which deferred hosts converge anyway.
 */
import { describe, expect, test } from 'bun:test'
import { pending, PRIOR, T0, TARGET } from '../host/fixtures.ts'
import {
  admitDispatch,
  convergesDespite,
  inStartupHold,
  STARTUP_HOLD_GATE,
  type DispatchFacts,
} from './admission.ts'

const policy = { startedAt: T0, startupDispatchHoldMs: 120_000, redeliverAfterMs: 90_000 }
const hb = (closure: string) => ({ closure, seqs: {}, at: T0 + 500 })
const facts = (patch: Partial<DispatchFacts> = {}): DispatchFacts => ({
  record: pending(),
  heartbeat: hb(PRIOR),
  queued: false,
  deliveredAt: undefined,
  now: T0 + 1000,
  ...patch,
})

describe('admitDispatch', () => {
  test('a heartbeating host off target is queued', () => {
    expect(admitDispatch(facts(), policy)).toEqual({ type: 'queue' })
  })

  test('a host already at its target converges, even when queued or held', () => {
    expect(admitDispatch(facts({ heartbeat: hb(TARGET), queued: true }), policy)).toEqual({
      type: 'converge',
      at: T0 + 500,
    })
    expect(
      admitDispatch(facts({ heartbeat: { closure: TARGET, seqs: { r1: 1 }, at: T0 } }), policy)
    ).toEqual({ type: 'queue' })
  })

  test('no second dispatch while one is queued or freshly delivered', () => {
    expect(admitDispatch(facts({ queued: true }), policy)).toEqual({ type: 'wait' })
    expect(admitDispatch(facts({ deliveredAt: T0 + 1000 - 89_999 }), policy)).toEqual({
      type: 'wait',
    })
    expect(admitDispatch(facts({ deliveredAt: T0 + 1000 - 90_000 }), policy)).toEqual({
      type: 'queue',
    })
  })

  test('the startup hold keeps a silent host until its end', () => {
    expect(admitDispatch(facts({ heartbeat: undefined }), policy)).toEqual({
      type: 'hold',
      gate: STARTUP_HOLD_GATE,
      reason:
        "waiting for web-01's first heartbeat since the control plane started (at most 119 s more), so a host already at its target is not dispatched again",
    })
    expect(admitDispatch(facts({ heartbeat: undefined, now: T0 + 120_000 }), policy)).toEqual({
      type: 'queue',
    })
    expect(inStartupHold(T0 + 119_999, policy)).toBe(true)
    expect(inStartupHold(T0 + 120_000, policy)).toBe(false)
  })
})

describe('convergesDespite', () => {
  test('only the disruption budget yields to a host at its target', () => {
    expect(convergesDespite('disruption-budget', pending(), hb(TARGET))).toBe(true)
    expect(convergesDespite('disruption-budget', pending(), hb(PRIOR))).toBe(false)
    expect(convergesDespite('wave-promotion', pending(), hb(TARGET))).toBe(false)
  })
})
