/**
 * Tests of the anti-rollback high-water mark (DECISIONS §3.1): newer signedAt advances, older is
 * a rollback, equal signedAt is ordered by ciCommit, and the same artifact is 'same'.
 */
import { describe, expect, test } from 'bun:test'
import { compareHighWater, highWaterKey, mergeHighWater } from './anti-rollback.ts'

const T = Date.UTC(2026, 4, 1, 12)
const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'

describe('compareHighWater', () => {
  test('no mark yet: advance', () => {
    expect(compareHighWater({ signedAtMs: 0, ciCommit: null }, undefined)).toBe('advance')
  })

  test('a later signedAt advances and an earlier one is a rollback, whatever the commits', () => {
    expect(
      compareHighWater({ signedAtMs: T + 1, ciCommit: A }, { signedAtMs: T, ciCommit: B })
    ).toBe('advance')
    expect(
      compareHighWater({ signedAtMs: T - 1, ciCommit: B }, { signedAtMs: T, ciCommit: A })
    ).toBe('rollback')
  })

  test('the same signedAt and commit is the same artifact', () => {
    expect(compareHighWater({ signedAtMs: T, ciCommit: A }, { signedAtMs: T, ciCommit: A })).toBe(
      'same'
    )
    expect(
      compareHighWater({ signedAtMs: T, ciCommit: null }, { signedAtMs: T, ciCommit: null })
    ).toBe('same')
  })

  test('the same signedAt with another commit is ordered by commit', () => {
    expect(compareHighWater({ signedAtMs: T, ciCommit: B }, { signedAtMs: T, ciCommit: A })).toBe(
      'advance'
    )
    expect(compareHighWater({ signedAtMs: T, ciCommit: A }, { signedAtMs: T, ciCommit: B })).toBe(
      'rollback'
    )
    // A null commit sorts below any commit.
    expect(
      compareHighWater({ signedAtMs: T, ciCommit: null }, { signedAtMs: T, ciCommit: A })
    ).toBe('rollback')
    expect(
      compareHighWater({ signedAtMs: T, ciCommit: A }, { signedAtMs: T, ciCommit: null })
    ).toBe('advance')
  })
})

describe('highWaterKey', () => {
  test('one mark per artifact kind, and per channel for rollout manifests', () => {
    expect([
      highWaterKey('fleet'),
      highWaterKey('revocations'),
      highWaterKey('bootstrap-nonces'),
      highWaterKey('rollout-manifest', 'stable'),
      highWaterKey('rollout-manifest', 'edge'),
      highWaterKey('fleet', 'stable'),
    ]).toEqual([
      'fleet',
      'revocations',
      'bootstrap-nonces',
      'rollout-manifest:stable',
      'rollout-manifest:edge',
      'fleet',
    ])
  })
})

describe('mergeHighWater', () => {
  const m = (key: string, signedAtMs: number, ciCommit: string | null = 'a', sha256 = 'x') => ({
    key,
    signedAtMs,
    ciCommit,
    sha256,
  })

  test('keeps the higher mark of each key, whichever record holds it', () => {
    const db = [m('fleet', 2000), m('revocations', 1000)]
    const file = [m('fleet', 1000), m('revocations', 3000), m('rollout-manifest:stable', 500)]
    expect(mergeHighWater(db, file)).toEqual([
      m('fleet', 2000),
      m('revocations', 3000),
      m('rollout-manifest:stable', 500),
    ])
  })

  test('a lost record (empty) leaves the other as it is; a tie keeps the first', () => {
    const file = [m('fleet', 1000, 'b', 'y')]
    expect(mergeHighWater([], file)).toEqual(file)
    expect(mergeHighWater([m('fleet', 1000, 'b', 'z')], file)).toEqual([m('fleet', 1000, 'b', 'z')])
    // Same second: the commit tie-break decides, as compareHighWater does.
    expect(mergeHighWater([m('fleet', 1000, 'a')], [m('fleet', 1000, 'c')])).toEqual([
      m('fleet', 1000, 'c'),
    ])
  })
})
