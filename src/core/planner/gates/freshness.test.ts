/**
 * The freshness gate (DECISIONS §3.2): a channel whose adopted manifest is past its signed
 * window dispatches nothing, with a sentence naming when it expired and that CI must re-sign;
 * a re-signed manifest (same rollout, new signedAt) lets the same rollout continue.
 */
import { describe, expect, test } from 'bun:test'
import { planNext } from '../plan-next.ts'
import { opened, world } from '../fixtures.ts'
import type { ManifestSet } from '../../types.ts'

const SIGNED = Date.UTC(2026, 0, 2, 10, 45, 10)
const HOUR = 3_600_000

describe('freshness gate', () => {
  const base = world({ stable: { waves: [['h1'], ['h2']] } })
  const signedAt = (ms: number): ManifestSet => ({
    ...base,
    signed: { stable: { signedAtMs: ms, windowSecs: 3600, signingIntervalMinutes: 20 } },
  })
  const state = opened(base)

  test('holds every pending host of a channel whose manifest expired, saying CI must re-sign', () => {
    const actions = planNext(signedAt(SIGNED), state, {}, SIGNED + HOUR + 1)
    const reason =
      'stable waits: manifest expired at 11:45:10 (signed 10:45:10, window 60m); ' +
      'CI must re-sign: nixfleet release --resign'
    expect(actions).toEqual(
      ['h1', 'h2'].map((hostname) => ({
        type: 'DeferDispatch',
        rolloutId: 'stable@r1',
        hostname,
        gate: 'freshness',
        reason,
      }))
    )
  })

  test('dispatches up to the last instant of the window, and again once re-signed', () => {
    const atEdge = planNext(signedAt(SIGNED), state, {}, SIGNED + HOUR)
    const gates = (actions: ReturnType<typeof planNext>) =>
      actions.map((a) => (a.type === 'DeferDispatch' ? a.gate : a.type))
    // h2 waits for wave 0 either way: only the freshness hold comes and goes.
    expect(gates(atEdge)).toEqual(['QueueDispatch', 'wave-promotion'])
    const resigned = planNext(signedAt(SIGNED + HOUR), state, {}, SIGNED + HOUR + 1)
    expect(gates(resigned)).toEqual(['QueueDispatch', 'wave-promotion'])
  })

  test('a channel without a signing stamp is not gated on freshness', () => {
    const actions = planNext(base, state, {}, SIGNED + 1000 * HOUR)
    expect(actions.some((a) => a.type === 'DeferDispatch' && a.gate === 'freshness')).toBe(false)
  })
})
