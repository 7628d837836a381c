import { describe, expect, test } from 'bun:test'
import { chooseRestamp } from './restamp.ts'

const C1 = '1111111111111111111111111111111111111111'
const C2 = '2222222222222222222222222222222222222222'
const at = (signedAtMs: number, ciCommit: string = C1) => ({ signedAtMs, ciCommit })

describe('chooseRestamp', () => {
  test('reuse keeps the previous stamp only for bytes that did not change', () => {
    const base = { reuse: true, previous: at(1000), freshUnchanged: false, fresh: at(2000) }
    expect(chooseRestamp({ ...base, restampedUnchanged: true })).toBe('reuse')
    expect(chooseRestamp({ ...base, restampedUnchanged: false })).toBe('fresh')
  })

  test('without the flag an unchanged artifact is stamped afresh', () => {
    expect(
      chooseRestamp({
        reuse: false,
        previous: at(1000),
        restampedUnchanged: true,
        freshUnchanged: false,
        fresh: at(2000),
      })
    ).toBe('fresh')
  })

  test('a changed artifact whose fresh stamp does not advance is not-newer', () => {
    const base = {
      reuse: true,
      previous: at(2000),
      restampedUnchanged: false,
      freshUnchanged: false,
    }
    expect(chooseRestamp({ ...base, fresh: at(1000) })).toBe('not-newer')
    expect(chooseRestamp({ ...base, fresh: at(2000) })).toBe('not-newer')
    // Same second, a later commit in the tie-break order: consumers advance.
    expect(chooseRestamp({ ...base, fresh: at(2000, C2) })).toBe('fresh')
  })

  test('a re-run producing identical bytes is fine; no previous artifact is fresh', () => {
    expect(
      chooseRestamp({
        reuse: false,
        previous: at(2000),
        restampedUnchanged: true,
        freshUnchanged: true,
        fresh: at(2000),
      })
    ).toBe('fresh')
    expect(
      chooseRestamp({
        reuse: true,
        previous: undefined,
        restampedUnchanged: false,
        freshUnchanged: false,
        fresh: at(1000),
      })
    ).toBe('fresh')
  })
})
