/** Tests of the shared shell pieces: the bounded queue, the fake clock and timers, and the wire mapping. */
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as v from 'valibot'
import type { OutboundAgentEvent, OutboundKind } from '../core/host/events.ts'
import { WireAgentEventSchema } from '../proto/agent.ts'
import { FakeClock } from './clock.ts'
import { checkJson, parseJsonBytes, readJsonFile } from './json-file.ts'
import { exposition, familyHeader, labelText, sampleLine, withLabel } from './prometheus.ts'
import { BoundedQueue } from './queue.ts'
import { FakeTimers } from './timers.ts'
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

test('FakeTimers run in due order with the clock at each due time, and not once cancelled', () => {
  const c = new FakeClock(0)
  const t = new FakeTimers(c)
  const ran: [string, number][] = []
  const note = (name: string) => () => ran.push([name, c.monotonicMs()])
  t.setTimeout(note('b'), 20)
  t.setTimeout(note('a'), 10)
  t.setTimeout(note('a2'), 10)
  t.setTimeout(() => {
    note('c')()
    // Set by a callback and due within the same advance: it runs in it too.
    t.setTimeout(note('d'), 5)
  }, 30)
  t.setTimeout(note('cancelled'), 15).cancel()
  t.advance(9)
  expect(ran).toEqual([])
  t.advance(31)
  expect(ran).toEqual([
    ['a', 10],
    ['a2', 10],
    ['b', 20],
    ['c', 30],
    ['d', 35],
  ])
  expect([c.monotonicMs(), t.size]).toEqual([40, 0])
})

test('FakeTimers: moving the clock alone runs nothing; the next advance runs what is overdue, late', () => {
  const c = new FakeClock(0)
  const t = new FakeTimers(c)
  const ran: number[] = []
  t.setTimeout(() => ran.push(c.monotonicMs()), 10)
  t.setTimeout(() => ran.push(c.monotonicMs()), 30)
  c.advance(25)
  expect(ran).toEqual([])
  t.advance(0)
  expect(ran).toEqual([25])
  t.advance(10)
  expect(ran).toEqual([25, 30])
})

describe('wire events', () => {
  const at = (minute: number, ms = 0) => Date.UTC(2026, 0, 2, 3, minute, 5, ms)
  // One event of every kind; the mapped type makes a kind added to the core a compile error here.
  const byKind: { readonly [K in OutboundKind]: Extract<OutboundAgentEvent, { kind: K }> } = {
    DispatchAck: {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'prior',
      receivedAt: at(4),
    },
    ActivationStarted: {
      kind: 'ActivationStarted',
      seq: 2,
      startedAt: at(5, 1),
      switchMethod: 'switch',
    },
    ActivationCompleted: {
      kind: 'ActivationCompleted',
      seq: 3,
      observedCurrentClosure: 'target',
      exitCode: 0,
      completedAt: at(6, 20),
    },
    ActivationFailed: {
      kind: 'ActivationFailed',
      seq: 4,
      exitCode: -1,
      stderrTail: 'unit nginx.service failed\n',
      failedAt: at(7, 300),
    },
    ActivationDeferred: {
      kind: 'ActivationDeferred',
      seq: 5,
      component: 'kernel',
      deferredAt: at(8, 999),
    },
    ProbeTopologyDeclared: {
      kind: 'ProbeTopologyDeclared',
      seq: 6,
      probes: [
        { probeName: 'http', kind: 'http', mode: 'enforce' },
        { probeName: 'cis', kind: 'exec', mode: 'observe' },
      ],
      declaredAt: at(9, 5),
    },
    ProbeObservedFirst: {
      kind: 'ProbeObservedFirst',
      seq: 7,
      probeName: 'http',
      mode: 'enforce',
      observedAt: at(10, 50),
    },
    ProbeResult: {
      kind: 'ProbeResult',
      seq: 8,
      probeName: 'http',
      mode: 'enforce',
      status: 'fail',
      observedAt: at(11, 250),
      failureReason: 'connection refused',
      subResults: [
        {
          controlId: 'c1',
          status: 'pass',
          framework: 'cis',
          article: null,
          effectiveMode: 'enforce',
          overrideReason: null,
        },
        {
          controlId: 'c2',
          status: 'fail',
          framework: 'nis2',
          article: '21',
          effectiveMode: 'observe',
          overrideReason: 'waived',
        },
      ],
    },
    ProbeFailureFirst: {
      kind: 'ProbeFailureFirst',
      seq: 9,
      probeName: 'http',
      mode: 'enforce',
      firstFailedAt: at(12, 7),
    },
    Failed: {
      kind: 'Failed',
      seq: 10,
      failedAt: at(13, 70),
      sustainedDurationSecs: 120,
      failingProbes: ['http'],
      policyApplied: 'rollback-and-halt',
    },
    RollbackComplete: {
      kind: 'RollbackComplete',
      seq: 11,
      revertedToClosure: 'prior',
      exitCode: 0,
      completedAt: at(14, 700),
    },
    Converged: { kind: 'Converged', seq: 12, convergedAt: at(15, 1), currentClosure: 'target' },
  }
  const events: OutboundAgentEvent[] = Object.values(byKind)

  test('the events tested are exactly the kinds of the wire schema', () => {
    const schemaKinds: string[] = WireAgentEventSchema.options.map((o) => o.entries.kind.literal)
    expect(Object.keys(byKind).sort()).toEqual(schemaKinds.sort())
  })

  test('times become RFC 3339 on the wire and the schema accepts the result', () => {
    expect(outboundToWire(byKind.DispatchAck)).toEqual({
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'prior',
      receivedAt: '2026-01-02T03:04:05.000Z',
    })
    for (const e of events) {
      const r = v.safeParse(WireAgentEventSchema, outboundToWire(e))
      expect(r.issues?.map((i) => `${e.kind}: ${i.message}`) ?? []).toEqual([])
    }
  })

  test('wire → core round trip is lossless for every kind, to the millisecond', () => {
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
    expect(checkJson(Schema, { n: 1, extra: true }, 'thing x')).toEqual({
      ok: true,
      value: { n: 1 },
    })
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
      expect(readJsonFile(missing, Schema, 'thing', { absent: { n: 0 } })).toEqual({
        ok: true,
        value: { n: 0 },
      })
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
