/**
 * Tests of the per-channel freshness window (DECISIONS §3.2): the channel's `freshnessWindow`
 * (minutes) capped by the global window (seconds); absent or 0 means the global window alone.
 */
import { describe, expect, test } from 'bun:test'
import {
  channelFreshnessWindowSecs,
  manifestFreshness,
  staleManifestSentence,
} from './freshness.ts'

const THIRTY_DAYS = 2_592_000

describe('channelFreshnessWindowSecs', () => {
  test('the channel window in seconds when it is shorter than the global one', () => {
    expect(channelFreshnessWindowSecs({ freshnessWindow: 180 }, THIRTY_DAYS)).toBe(10_800)
    expect(channelFreshnessWindowSecs({ freshnessWindow: 1 }, 3600)).toBe(60)
  })

  test('the global window when it is shorter, or equal', () => {
    expect(channelFreshnessWindowSecs({ freshnessWindow: 1440 }, 3600)).toBe(3600)
    expect(channelFreshnessWindowSecs({ freshnessWindow: 60 }, 3600)).toBe(3600)
  })

  test('0, null, absent, or no channel at all mean the global window', () => {
    expect(channelFreshnessWindowSecs({ freshnessWindow: 0 }, 3600)).toBe(3600)
    expect(channelFreshnessWindowSecs({ freshnessWindow: null }, 3600)).toBe(3600)
    expect(channelFreshnessWindowSecs({}, 3600)).toBe(3600)
    expect(channelFreshnessWindowSecs(undefined, THIRTY_DAYS)).toBe(THIRTY_DAYS)
  })
})

describe('manifestFreshness', () => {
  const T = Date.UTC(2026, 0, 2, 10, 0, 0)
  test('fresh until signedAt + window; stale only after it', () => {
    const f = manifestFreshness({ signedAtMs: T, windowSecs: 3600, now: T + 3_600_000 })
    expect(f.freshUntil).toBe(T + 3_600_000)
    expect(f.stale).toBe(false)
    expect(manifestFreshness({ signedAtMs: T, windowSecs: 3600, now: T + 3_600_001 }).stale).toBe(
      true
    )
  })

  test('resignBefore is the next signing interval, never after freshUntil', () => {
    const at = (interval: number | undefined) =>
      manifestFreshness({
        signedAtMs: T,
        windowSecs: 3600,
        signingIntervalMinutes: interval,
        now: T,
      }).resignBefore
    expect(at(20)).toBe(T + 20 * 60_000)
    expect(at(90)).toBe(T + 3_600_000)
    expect(at(0)).toBe(T + 3_600_000)
    expect(at(undefined)).toBe(T + 3_600_000)
  })

  test('the stale sentence gives times of day, the window and what CI must do', () => {
    const f = manifestFreshness({ signedAtMs: T + 30_000, windowSecs: 90, now: T + 200_000 })
    expect(staleManifestSentence('edge', f)).toBe(
      'edge waits: manifest expired at 10:02:00 (signed 10:00:30, window 90s); CI must re-sign: nixfleet release --resign'
    )
  })
})
