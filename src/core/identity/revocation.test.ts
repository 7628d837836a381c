import { describe, expect, test } from 'bun:test'
import {
  certRevoked,
  issuanceHoldMs,
  renewalVerdict,
  revocationAdoptedAt,
  revocationCutoff,
} from './revocation.ts'

const S = 1000
const H = 3600_000
const DAY = 24 * H

describe('revocation', () => {
  test('the cutoff is the later of the signed notBefore and the adoption, rounded up to a second', () => {
    expect(revocationCutoff({ notBefore: 100 * S, revokedAt: 50 * S })).toBe(100 * S)
    expect(revocationCutoff({ notBefore: 100 * S, revokedAt: 200 * S + 1 })).toBe(201 * S)
    expect(revocationCutoff({ notBefore: 100 * S, revokedAt: 200 * S })).toBe(200 * S)
  })

  test('a certificate renewed between notBefore and adoption is revoked; one issued after is not', () => {
    const r = { notBefore: 100 * S, revokedAt: 200 * S + 500 }
    expect(certRevoked(99 * S, r)).toBe(true)
    expect(certRevoked(150 * S, r)).toBe(true)
    expect(certRevoked(200 * S, r)).toBe(true)
    expect(certRevoked(201 * S, r)).toBe(false)
    expect(certRevoked(0, undefined)).toBe(false)
  })

  test('the adoption time is kept for an unchanged entry and restarts for a changed one', () => {
    const held = { notBefore: 100 * S, revokedAt: 200 * S }
    expect(revocationAdoptedAt(held, 100 * S, 900 * S)).toBe(200 * S)
    expect(revocationAdoptedAt(held, 300 * S, 900 * S)).toBe(900 * S)
    expect(revocationAdoptedAt(undefined, 100 * S, 900 * S)).toBe(900 * S)
  })

  test('issuance waits out the second of adoption only', () => {
    const r = { notBefore: 100 * S, revokedAt: 200 * S + 300 }
    expect(issuanceHoldMs(r, 200 * S + 400)).toBe(600)
    expect(issuanceHoldMs(r, 201 * S)).toBe(0)
    expect(issuanceHoldMs(undefined, 0)).toBe(0)
  })
})

describe('renewal', () => {
  const base = { lastIssuedAt: undefined, revocation: undefined, validityMs: DAY }

  test('once per quarter of the lifetime, counted from the certificate', () => {
    expect(renewalVerdict({ ...base, certNotBeforeMs: 0, now: 6 * H })).toEqual({ ok: true })
    expect(renewalVerdict({ ...base, certNotBeforeMs: 0, now: 6 * H - 1 })).toEqual({
      ok: false,
      kind: 'TooSoon',
      retryAfterMs: 1,
    })
  })

  test('or from the last issuance to the host, when later', () => {
    expect(
      renewalVerdict({ ...base, certNotBeforeMs: 0, lastIssuedAt: 7 * H, now: 8 * H })
    ).toEqual({ ok: false, kind: 'TooSoon', retryAfterMs: 5 * H })
  })

  test('a revoked certificate never renews, however old', () => {
    const revocation = { notBefore: 10 * H, revokedAt: 11 * H }
    expect(
      renewalVerdict({ ...base, revocation, certNotBeforeMs: 10 * H + S, now: 40 * H })
    ).toEqual({ ok: false, kind: 'Revoked' })
    expect(renewalVerdict({ ...base, revocation, certNotBeforeMs: 12 * H, now: 40 * H })).toEqual({
      ok: true,
    })
  })
})
