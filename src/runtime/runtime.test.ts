/** Tests of the shared shell pieces: the bounded queue, the fake clock and the wire mapping. */
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as v from 'valibot'
import type { OutboundAgentEvent } from '../core/host/events.ts'
import { WireAgentEventSchema } from '../proto/agent.ts'
import { FakeClock } from './clock.ts'
import { checkJson, parseJsonBytes, readJsonFile } from './json-file.ts'
import { exposition, familyHeader, labelText, sampleLine, withLabel } from './prometheus.ts'
import { BoundedQueue } from './queue.ts'
import { outboundToWire, wireToOutbound } from './wire.ts'

describe('BoundedQueue', () => {
  test('refuses pushes beyond capacity and delivers in order', async () => {
    const q = new BoundedQueue<number>(2)
    expect([q.tryPush(1), q.tryPush(2), q.tryPush(3)]).toEqual([true, true, false])
    expect([await q.pull(), await q.pull()]).toEqual([1, 2])
    expect(q.tryPush(4)).toBe(true)
    expect(await q.pull()).toBe(4)
  })

  test('a waiting consumer is woken by a push, and by close with undefined', async () => {
    const q = new BoundedQueue<string>(1)
    const first = q.pull()
    expect(q.tryPush('a')).toBe(true)
    expect(await first).toBe('a')
    const second = q.pull()
    q.close()
    expect(await second).toBeUndefined()
    expect(q.tryPush('b')).toBe(false)
  })

  test('peek and tryPull see what is queued now, in order, without waiting', async () => {
    const q = new BoundedQueue<number>(3)
    expect(q.tryPull()).toBeUndefined()
    q.tryPush(1)
    q.tryPush(2)
    expect(q.peek()).toBe(1)
    expect(q.tryPull()).toBe(1)
    expect(await q.pull()).toBe(2)
    expect(q.tryPull()).toBeUndefined()
    expect(q.size).toBe(0)
  })

  test('close lets the consumer drain what was queued', async () => {
    const q = new BoundedQueue<number>(3)
    q.tryPush(1)
    q.tryPush(2)
    q.close()
    expect([await q.pull(), await q.pull(), await q.pull()]).toEqual([1, 2, undefined])
  })
})

test('FakeClock moves only when told', () => {
  const c = new FakeClock(1_000)
  c.advance(500)
  expect([c.now(), c.monotonicMs()]).toEqual([1_500, 500])
  c.set(10)
  expect([c.now(), c.monotonicMs()]).toEqual([10, 500])
})

describe('wire events', () => {
  const events: OutboundAgentEvent[] = [
    { kind: 'DispatchAck', seq: 1, currentClosureAtDispatch: 'prior', receivedAt: Date.UTC(2026, 0, 2, 3, 4, 5) },
    {
      kind: 'ProbeResult',
      seq: 4,
      probeName: 'http',
      mode: 'enforce',
      status: 'fail',
      observedAt: Date.UTC(2026, 0, 2, 3, 5, 0, 250),
      failureReason: 'connection refused',
      subResults: [
        { controlId: 'c1', status: 'pass', framework: 'cis', article: null, effectiveMode: 'enforce', overrideReason: null },
      ],
    },
    { kind: 'Converged', seq: 9, convergedAt: Date.UTC(2026, 0, 2, 4), currentClosure: 'target' },
  ]

  test('times become RFC 3339 on the wire and the schema accepts the result', () => {
    const wire = outboundToWire(events[0]!)
    expect(wire).toEqual({ kind: 'DispatchAck', seq: 1, currentClosureAtDispatch: 'prior', receivedAt: '2026-01-02T03:04:05.000Z' })
    for (const e of events) expect(v.safeParse(WireAgentEventSchema, outboundToWire(e)).success).toBe(true)
  })

  test('wire → core round trip is lossless for every kind used', () => {
    for (const e of events) {
      const parsed = v.parse(WireAgentEventSchema, outboundToWire(e))
      expect(wireToOutbound(parsed)).toEqual(e)
    }
  })
})

describe('the strict JSON reader', () => {
  const Schema = v.object({ n: v.number() })
  const utf8 = (s: string) => new TextEncoder().encode(s)

  test('parses, validates, and names the source in every failure without echoing it', () => {
    expect(parseJsonBytes(utf8(' {"n": 1}\n'), 'thing x')).toEqual({ ok: true, value: { n: 1 } })
    const dup = parseJsonBytes(utf8('{"n":1,"n":2}'), 'thing x')
    expect(dup.ok ? '' : dup.message).toMatch(/^thing x: invalid JSON at offset \d+: /)
    const bom = parseJsonBytes(utf8('\ufeff{"n":1}'), 'thing x')
    expect(bom.ok ? '' : bom.message).toMatch(/^thing x: .*byte order mark/)
    const bad = parseJsonBytes(new Uint8Array([0x7b, 0xff, 0x7d]), 'thing x')
    expect(bad.ok ? '' : bad.message).toMatch(/^thing x: .*invalid UTF-8/)
    expect(checkJson(Schema, { n: 1, extra: true }, 'thing x')).toEqual({ ok: true, value: { n: 1 } })
    const wrong = checkJson(Schema, { n: 'secret-value' }, 'thing x')
    expect(wrong.ok).toBe(false)
    expect(wrong.ok ? '' : wrong.message).toStartWith('thing x: ')
    expect(wrong.ok ? '' : wrong.message).not.toContain('secret-value')
  })

  test('reads a file; a missing one is an error unless an absent value is given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'json-file-'))
    try {
      const path = join(dir, 'x.json')
      const missing = join(dir, 'missing.json')
      writeFileSync(path, '{"n":2}')
      expect(readJsonFile(path, Schema, 'thing')).toEqual({ ok: true, value: { n: 2 } })
      expect(readJsonFile(missing, Schema, 'thing')).toEqual({
        ok: false,
        message: `cannot read thing ${missing}: no such file or directory`,
      })
      expect(readJsonFile(missing, Schema, 'thing', { absent: { n: 0 } })).toEqual({ ok: true, value: { n: 0 } })
      // Only absence is defaulted: a directory in its place is still an error.
      expect(readJsonFile(dir, Schema, 'thing', { absent: { n: 0 } }).ok).toBe(false)
      writeFileSync(path, '{"n":')
      const torn = readJsonFile(path, Schema, 'thing', { absent: { n: 0 } })
      expect(torn.ok ? '' : torn.message).toStartWith(`thing ${path}: invalid JSON`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('Prometheus text', () => {
  test('label sets sort names and escape values; one set has one text', () => {
    expect(labelText({})).toBe('')
    expect(labelText({ b: '2', a: 'x"y\\z\nw' })).toBe('{a="x\\"y\\\\z\\nw",b="2"}')
    expect(labelText({ b: '2', a: '1' })).toBe(labelText({ a: '1', b: '2' }))
    expect(withLabel('', 'le', '0.5')).toBe('{le="0.5"}')
    expect(withLabel(labelText({ route: 'r' }), 'le', '+Inf')).toBe('{route="r",le="+Inf"}')
  })

  test('families, samples and the document', () => {
    const lines = [
      ...familyHeader('x_total', 'counter', 'Things\\n.'),
      sampleLine('x_total', labelText({ k: 'v' }), 3),
      sampleLine('x_total', '', Number.POSITIVE_INFINITY),
      sampleLine('x_total', '', Number.NEGATIVE_INFINITY),
      sampleLine('x_total', '', Number.NaN),
    ]
    expect(exposition(lines)).toBe(
      '# HELP x_total Things\\\\n.\n# TYPE x_total counter\nx_total{k="v"} 3\nx_total +Inf\nx_total -Inf\nx_total NaN\n'
    )
  })
})
