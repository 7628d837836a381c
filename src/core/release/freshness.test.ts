/**
 * Tests of the per-channel freshness window (DECISIONS §3.2): the channel's `freshnessWindow`
 * (minutes) capped by the global window (seconds); absent or 0 means the global window alone.
 */
import { describe, expect, test } from 'bun:test'
import { channelFreshnessWindowSecs } from './freshness.ts'

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
