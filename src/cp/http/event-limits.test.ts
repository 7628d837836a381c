import { describe, expect, test } from 'bun:test'
import { capEvent, cutText, HostRateLimiter } from './event-limits.ts'

describe('cutText', () => {
  test('fits within the limit, marker included, and never splits a character', () => {
    for (const s of ['é'.repeat(5000), '🙂'.repeat(3000), 'a' + 'é'.repeat(4000)]) {
      const cut = cutText(s, 1000)
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1000)
      expect(cut).not.toContain('\uFFFD')
      const m = /…\[truncated (\d+) bytes\]$/.exec(cut)!
      expect(Buffer.byteLength(cut.slice(0, m.index)) + Number(m[1])).toBe(Buffer.byteLength(s))
    }
    expect(cutText('short', 1000)).toBe('short')
  })
})

describe('capEvent', () => {
  test('reports whether anything was cut, and refuses what is still too large', () => {
    const ev = {
      kind: 'ActivationFailed' as const,
      seq: 1,
      exitCode: 1,
      stderrTail: 'x'.repeat(10_000),
      failedAt: '2026-05-01T12:00:00Z',
    }
    const r = capEvent(ev, 100, 1000)
    expect(r.ok && r.truncated).toBe(true)
    expect(r.ok && r.event.kind === 'ActivationFailed' && r.event.stderrTail.length).toBeLessThan(
      101
    )
    expect(capEvent({ ...ev, stderrTail: 'ok' }, 100, 1000)).toMatchObject({ truncated: false })
    expect(capEvent(ev, 5000, 1000)).toMatchObject({ ok: false })
  })
})

describe('HostRateLimiter', () => {
  test('a burst, then the sustained rate, per host', () => {
    const l = new HostRateLimiter(60, 2)
    expect([l.take('a', 0), l.take('a', 0), l.take('a', 0)]).toEqual([0, 0, 1])
    expect(l.take('b', 0)).toBe(0)
    expect(l.take('a', 999)).toBe(1)
    expect(l.take('a', 1000)).toBe(0)
  })
})
