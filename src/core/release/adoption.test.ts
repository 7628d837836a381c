/**
 * Tests of the adoption verdict: no mark or a newer artifact advances, the same artifact is
 * accepted without advancing, the same stamp with other bytes and an older artifact are refused
 * as rollbacks with the message operators see.
 */
import { describe, expect, test } from 'bun:test'
import { adoptionVerdict } from './adoption.ts'

const T = Date.UTC(2026, 4, 1, 12)
const A = 'a'.repeat(40)
const B = 'b'.repeat(40)
const mark = { signedAtMs: T, ciCommit: A, sha256: 'sha-a' }

describe('adoptionVerdict', () => {
  test('no mark yet, or a newer artifact: accept and advance', () => {
    expect(
      adoptionVerdict({ signedAtMs: 0, signedAt: 'x', ciCommit: null, sha256: 's' }, undefined)
    ).toEqual({ ok: true, advance: true })
    expect(
      adoptionVerdict({ signedAtMs: T + 1, signedAt: 'x', ciCommit: null, sha256: 's' }, mark)
    ).toEqual({ ok: true, advance: true })
    expect(
      adoptionVerdict({ signedAtMs: T, signedAt: 'x', ciCommit: B, sha256: 's' }, mark)
    ).toEqual({ ok: true, advance: true })
  })

  test('the adopted artifact again: accept without moving the mark', () => {
    expect(
      adoptionVerdict({ signedAtMs: T, signedAt: 'x', ciCommit: A, sha256: 'sha-a' }, mark)
    ).toEqual({ ok: true, advance: false })
  })

  test('the same stamp with other bytes is refused', () => {
    expect(
      adoptionVerdict({ signedAtMs: T, signedAt: 'x', ciCommit: A, sha256: 'sha-b' }, mark)
    ).toEqual({
      ok: false,
      kind: 'Rollback',
      message: 'same signedAt and ciCommit as the adopted artifact but different bytes',
    })
  })

  test('an older artifact is refused, naming both stamps', () => {
    const older = {
      signedAtMs: T - 1000,
      signedAt: '2026-05-01T11:59:59Z',
      ciCommit: null,
      sha256: 's',
    }
    expect(adoptionVerdict(older, mark)).toEqual({
      ok: false,
      kind: 'Rollback',
      message: `signed 2026-05-01T11:59:59Z (ciCommit null), older than the adopted 2026-05-01T12:00:00.000Z (ciCommit ${A})`,
    })
    expect(
      adoptionVerdict({ ...older, signedAtMs: T, ciCommit: '0'.repeat(40) }, mark)
    ).toMatchObject({ ok: false, kind: 'Rollback' })
  })
})
