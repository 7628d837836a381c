/**
 * The content a re-sign must keep: everything but `meta.signedAt`, over every released artifact.
 */
import { describe, expect, test } from 'bun:test'
import type { JsonValue } from '../crypto/canonical-json.ts'
import { contentOf, firstDifference, resignChange } from './resign.ts'

const fleet = (signedAt: string, extra: Record<string, JsonValue> = {}): JsonValue => ({
  hosts: { 'web-01': { closureHash: 'abc', channel: 'stable', ...extra } },
  meta: { signedAt, ciCommit: 'c1', signatureAlgorithm: 'ed25519', schemaVersion: 1 },
})

describe('re-sign content', () => {
  test('contentOf drops meta.signedAt only', () => {
    expect(contentOf(fleet('2026-01-01T00:00:00Z'))).toEqual({
      hosts: { 'web-01': { closureHash: 'abc', channel: 'stable' } },
      meta: { ciCommit: 'c1', signatureAlgorithm: 'ed25519', schemaVersion: 1 },
    })
  })

  test('a new signedAt is no change; anything else names the first path that changed', () => {
    const a = new Map([['fleet.resolved.json', fleet('2026-01-01T00:00:00Z')]])
    expect(
      resignChange(a, new Map([['fleet.resolved.json', fleet('2026-01-01T01:00:00Z')]]))
    ).toBeUndefined()
    const pinned = fleet('2026-01-01T01:00:00Z', { pin: { closure: 'old' } })
    expect(resignChange(a, new Map([['fleet.resolved.json', pinned]]))).toBe(
      'fleet.resolved.json changed at hosts.web-01.pin'
    )
  })

  test('the commit, the algorithm and the set of artifacts are content too', () => {
    const a = new Map([['fleet.resolved.json', fleet('2026-01-01T00:00:00Z')]])
    const other = fleet('2026-01-01T01:00:00Z') as { meta: Record<string, JsonValue> }
    other.meta.ciCommit = 'c2'
    expect(resignChange(a, new Map([['fleet.resolved.json', other as JsonValue]]))).toBe(
      'fleet.resolved.json changed at meta.ciCommit'
    )
    const withList = new Map<string, JsonValue>([
      ['fleet.resolved.json', fleet('2026-01-01T01:00:00Z')],
      ['revocations.json', { revocations: [] }],
    ])
    expect(resignChange(a, withList)).toBe('revocations.json is not in the released directory')
    expect(resignChange(withList, a)).toBe('revocations.json would no longer be released')
  })

  test('firstDifference walks arrays by index', () => {
    expect(firstDifference({ a: [1, 2] }, { a: [1, 3] })).toBe('a[1]')
    expect(firstDifference({ a: [1] }, { a: [1, 2] })).toBe('a')
    expect(firstDifference(1, 2)).toBe('(root)')
  })
})
