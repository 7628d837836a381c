/**
 * Unit tests of `hostProblem`: which one problem a host shows for the facts the CP holds, at an
 * injected `now`, and the words gate sentences give it.
 */
import { describe, expect, test } from 'bun:test'
import {
  enrolmentOf,
  formatSpan,
  hostProblem,
  problemLabel,
  REANCHOR_NOTICE_MS,
  type HostFacts,
} from './problem.ts'

const NOW = Date.UTC(2026, 4, 1, 12)
const MIN = 60_000
const fine: HostFacts = {
  enrolment: { state: 'enrolled', at: NOW - 60 * MIN, reason: null },
  revokedAt: null,
  denied: null,
  lastSeenAt: NOW - 10_000,
  lastRefusal: null,
  localProblem: null,
  reanchoredAt: null,
}
const problem = (over: Partial<HostFacts>, now = NOW) => hostProblem({ ...fine, ...over }, now, MIN)

describe('hostProblem', () => {
  test("an operator's emergency denial is the problem, after a signed revocation", () => {
    const denied = { by: 'CN=alice', reason: 'stolen laptop', at: NOW - MIN }
    expect(problem({ denied })).toEqual({
      kind: 'denied',
      message: 'denied by CN=alice: stolen laptop',
      since: NOW - MIN,
    })
    expect(problem({ denied, revokedAt: NOW })?.kind).toBe('cert-revoked')
  })

  test('a host heard from lately with nothing to report has no problem', () => {
    expect(problem({})).toBeNull()
  })

  test('a refused dispatch names the kind and the agent reason', () => {
    const p = problem({
      lastRefusal: { kind: 'Stale', message: 'manifest signed 2h ago', at: NOW - MIN },
    })
    expect(p).toEqual({
      kind: 'refused-dispatch',
      message: 'refused: Stale: manifest signed 2h ago',
      since: NOW - MIN,
    })
    expect(problemLabel(p!, NOW)).toBe('refused: Stale')
  })

  test('offline only past three heartbeat intervals, with how long', () => {
    expect(problem({ lastSeenAt: NOW - 3 * MIN })).toBeNull()
    const p = problem({ lastSeenAt: NOW - 3 * MIN - 10_000 })
    expect(p).toEqual({ kind: 'offline', message: 'not seen for 3m10s', since: NOW - 190_000 })
    expect(problemLabel(p!, NOW)).toBe('offline 3m10s')
  })

  test('an enrolled host never heard from is offline from its enrolment', () => {
    expect(problem({ lastSeenAt: null })).toMatchObject({
      kind: 'offline',
      message: 'not seen since it enrolled 1h ago',
    })
  })

  test('revoked wins over everything; offline hides what the host last reported', () => {
    const stale = { kind: 'Stale', message: 'x', at: NOW - MIN }
    expect(problem({ revokedAt: NOW - MIN, lastRefusal: stale })?.kind).toBe('cert-revoked')
    expect(problem({ lastSeenAt: NOW - 10 * MIN, lastRefusal: stale })?.kind).toBe('offline')
    expect(
      problem({
        lastRefusal: stale,
        localProblem: { worker: 'outbox', message: 'disk full', since: NOW - MIN },
      })
    ).toEqual({ kind: 'agent-io-error', message: 'outbox: disk full', since: NOW - MIN })
  })

  test('never enrolled, and enrolment refused with the reason the CP gave', () => {
    expect(
      problem({ enrolment: { state: 'never', at: null, reason: null }, lastSeenAt: null })
    ).toEqual({ kind: 'never-enrolled', message: 'never enrolled', since: null })
    expect(
      problem({
        enrolment: { state: 'refused', at: NOW - MIN, reason: 'bootstrap token has expired' },
      })
    ).toEqual({
      kind: 'enrolment-refused',
      message: 'enrolment refused: bootstrap token has expired',
      since: NOW - MIN,
    })
  })

  test('a re-anchor is news for a day', () => {
    expect(problem({ reanchoredAt: NOW - 2 * 3_600_000 })).toMatchObject({
      kind: 'reanchored',
      message: 'anti-rollback marks re-anchored 2h ago',
    })
    expect(problem({ reanchoredAt: NOW - REANCHOR_NOTICE_MS })).toBeNull()
    // A new host anchors its marks for the first time right after it enrolled.
    const enrolled = { state: 'enrolled' as const, at: NOW - 2 * MIN, reason: null }
    expect(problem({ enrolment: enrolled, reanchoredAt: NOW - MIN })).toBeNull()
  })

  test('a closure missing from the cache names it, after a refusal and before a re-anchor', () => {
    const closureMissing = { closure: 'abc-nixos-system-web-01', cache: 'file:///c', since: NOW }
    expect(problem({ closureMissing, reanchoredAt: NOW - MIN })).toEqual({
      kind: 'closure-missing',
      message: 'closure abc-nixos-system-web-01 not in file:///c; push it with nix copy',
      since: NOW,
    })
    const lastRefusal = { kind: 'Stale', message: 'old', at: NOW }
    expect(problem({ closureMissing, lastRefusal })?.kind).toBe('refused-dispatch')
  })
})

describe('enrolmentOf', () => {
  const refusal = { at: NOW, reason: 'bootstrap token already used' }
  test('never, enrolled, refused', () => {
    expect(enrolmentOf(null, null, false, undefined).state).toBe('never')
    expect(enrolmentOf(null, null, true, undefined).state).toBe('enrolled')
    expect(enrolmentOf(null, null, false, refusal)).toEqual({
      state: 'refused',
      at: NOW,
      reason: 'bootstrap token already used',
    })
  })
  test('a refusal older than the last sign of life is history', () => {
    expect(enrolmentOf(NOW - MIN, NOW + 1, true, refusal).state).toBe('enrolled')
    expect(enrolmentOf(NOW - MIN, NOW - 1, true, refusal).state).toBe('refused')
  })
})

describe('formatSpan', () => {
  test('two largest units, zeros left out', () => {
    expect(formatSpan(0)).toBe('0s')
    expect(formatSpan(45_000)).toBe('45s')
    expect(formatSpan(102_000)).toBe('1m42s')
    expect(formatSpan(7_200_000)).toBe('2h')
    expect(formatSpan(7_260_000)).toBe('2h1m')
    expect(formatSpan(3 * 86_400_000 + 4 * 3_600_000 + 5000)).toBe('3d4h')
  })
})
