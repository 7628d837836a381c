/**
 * The control-plane rotation policy: which failures move the agent, where to (address by
 * address, then URL by URL, round the list), the full-jitter backoff of each move, stale reports
 * of concurrent requests, and that an answer forgets the failures.
 */
import { describe, expect, test } from 'bun:test'
import type { ClientError } from './cp-errors.ts'
import {
  afterFailure,
  afterSuccess,
  failoverDelayMs,
  failoverReason,
  initialFailover,
  type FailoverState,
} from './failover.ts'

const status = (s: number): ClientError => ({
  kind: 'status',
  status: s,
  message: '',
  retryAfterSecs: undefined,
})

/** A failure report on the current target of `s`; two URLs of one address unless told. */
const fail = (s: FailoverState, o: Partial<Parameters<typeof afterFailure>[1]> = {}) =>
  afterFailure(s, { epoch: s.epoch, urlCount: 2, addrCount: 1, random: 0.5, capMs: 30_000, ...o })

describe('failover policy', () => {
  test('connection failures, timeouts, TLS name errors and 502/503/504 move; answers do not', () => {
    const moves: ClientError[] = [
      { kind: 'network', message: 'refused', code: 'ECONNREFUSED' },
      { kind: 'timeout', message: 'request deadline exceeded' },
      { kind: 'config', message: 'TLS' },
      status(502),
      status(503),
      status(504),
    ]
    for (const e of moves) expect(failoverReason(e)).toBeString()
    expect(failoverReason(moves[0]!)).toBe('connection failed (ECONNREFUSED)')
    expect(failoverReason(status(503))).toBe('HTTP 503')
    const stays: ClientError[] = [
      status(500),
      status(400),
      status(409),
      status(429),
      { kind: 'invalid', message: 'not JSON' },
      { kind: 'aborted', message: 'request cancelled' },
    ]
    for (const e of stays) expect(failoverReason(e)).toBeUndefined()
  })

  test('full jitter: uniform below base·2^(n-1), capped', () => {
    const cap = 30_000
    // The ceiling of each failure count, read at random → 1.
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 10, 100].map((n) => failoverDelayMs(n, 1, cap))
    expect(ceilings).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000])
    // The floor is 0 (full jitter, not "half and half").
    expect(failoverDelayMs(5, 0, cap)).toBe(0)
    expect(failoverDelayMs(3, 0.5, cap)).toBe(2_000)
    // A lower cap (a short --backoff-max-secs) wins.
    expect(failoverDelayMs(4, 1, 2_000)).toBe(2_000)
    // Out-of-range randomness is clamped, never negative or above the ceiling.
    expect(failoverDelayMs(1, -1, cap)).toBe(0)
    expect(failoverDelayMs(1, 7, cap)).toBe(1_000)
  })

  test('moves address by address, then URL by URL, round the list; each move waits its backoff', () => {
    // URL 0 has two addresses, URL 1 is used by name (one target), URL 2 has three.
    const addrCount = [2, 1, 3]
    let s: FailoverState = initialFailover
    const path: string[] = []
    const delays: number[] = []
    for (let i = 0; i < 7; i++) {
      const m = fail(s, { urlCount: 3, addrCount: addrCount[s.url]!, random: 1 })
      expect(m.moved).toBe(true)
      expect(m.newUrl).toBe(m.state.url !== s.url || m.state.addr === 0)
      s = m.state
      path.push(`${s.url}/${s.addr}`)
      delays.push(m.delayMs)
    }
    expect(path).toEqual(['0/1', '1/0', '2/0', '2/1', '2/2', '0/0', '0/1'])
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000])
    expect(s.failures).toBe(7)
  })

  test('one URL with one address stays where it is (the URL is looked up again)', () => {
    const m = fail(initialFailover, { urlCount: 1, random: 0 })
    expect(m.state).toMatchObject({ url: 0, addr: 0, failures: 1 })
    expect(m.newUrl).toBe(true)
  })

  test('a failure of a request sent before the last move is not counted again', () => {
    const first = fail(initialFailover)
    expect(first.state).toMatchObject({ url: 1, failures: 1, epoch: 1 })
    // A second request that was in flight to URL 0 fails too: the agent stays on URL 1.
    const stale = fail(first.state, { epoch: 0 })
    expect(stale).toEqual({ state: first.state, moved: false, newUrl: false, delayMs: 0 })
  })

  test('an answer keeps the target and forgets the failures', () => {
    const s: FailoverState = { url: 1, addr: 0, failures: 4, epoch: 4 }
    expect(afterSuccess(s)).toEqual({ url: 1, addr: 0, failures: 0, epoch: 4 })
    expect(afterSuccess(initialFailover)).toBe(initialFailover)
    // The next failure after an answer waits the first step again.
    const m = fail(afterSuccess(s), { random: 1 })
    expect(m.delayMs).toBe(1_000)
    expect(m.state.url).toBe(0)
  })
})
