/**
 * Tests of core's RFC 3339 formatter: fixed dates (epoch, leap days, century rules, the last
 * millisecond before the epoch, extended years) and, over the whole range of four-digit years,
 * agreement with proto's `toRfc3339` (the shell's timestamps) and with the wire parser.
 */
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { parseRfc3339Ms, toRfc3339 } from '../../proto/common.ts'
import { formatRfc3339 } from './rfc3339.ts'

// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z.
const MIN_4DIGIT = -62_167_219_200_000
const MAX_4DIGIT = 253_402_300_799_999

describe('formatRfc3339', () => {
  test('fixed dates', () => {
    expect(formatRfc3339(0)).toBe('1970-01-01T00:00:00.000Z')
    expect(formatRfc3339(-1)).toBe('1969-12-31T23:59:59.999Z')
    expect(formatRfc3339(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('2026-01-02T03:04:05.678Z')
    expect(formatRfc3339(Date.UTC(2000, 1, 29))).toBe('2000-02-29T00:00:00.000Z')
    expect(formatRfc3339(Date.UTC(2024, 1, 29, 23, 59, 59, 999))).toBe('2024-02-29T23:59:59.999Z')
    expect(formatRfc3339(Date.UTC(2100, 2, 1))).toBe('2100-03-01T00:00:00.000Z')
    expect(formatRfc3339(MIN_4DIGIT)).toBe('0000-01-01T00:00:00.000Z')
    expect(formatRfc3339(MAX_4DIGIT)).toBe('9999-12-31T23:59:59.999Z')
    expect(formatRfc3339(MAX_4DIGIT + 1)).toBe('+010000-01-01T00:00:00.000Z')
    expect(formatRfc3339(MIN_4DIGIT - 1)).toBe('-000001-12-31T23:59:59.999Z')
  })

  test('agrees with toRfc3339 and round-trips through the wire parser', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_4DIGIT, max: MAX_4DIGIT }), (ms) => {
        const text = formatRfc3339(ms)
        expect(text).toBe(toRfc3339(ms))
        expect(parseRfc3339Ms(text)).toBe(ms)
      }),
      { numRuns: 2000 }
    )
  })

  test('agrees with toRfc3339 on extended years', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }), (ms) => {
        expect(formatRfc3339(ms)).toBe(toRfc3339(ms))
      }),
      { numRuns: 500 }
    )
  })
})
