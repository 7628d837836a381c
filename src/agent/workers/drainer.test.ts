/**
 * The outbound drainer against a scripted HTTPS stand-in: seq order per rollout, a 5xx stops
 * the pass (retried later with the same seq), a 409 is dead-lettered and the rollout goes on.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'bun:test'
import type { OutboundAgentEvent } from '../../core/index.ts'
import { AgentClient } from '../cp-client.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { createLogger, parseLogLine } from '../../runtime/log.ts'
import { Drainer } from './drainer.ts'
import {
  httpsServer,
  jsonReply,
  removeDir,
  tempDir,
  testPki,
  type TestPki,
  type TestServer,
} from '../../../tests/support/fixtures.ts'
import { M, Metrics } from '../metrics.ts'
import { Outbox } from '../outbox.ts'

const R1 = 'stable@aaaa'
const R2 = 'edge@aaaa'

let pki: TestPki
let server: TestServer
let posted: { rolloutId: string; seq: number; kind: string; receivedAt?: string }[] = []
let statusFor: (rolloutId: string, seq: number) => number = () => 204

beforeAll(async () => {
  pki = await testPki()
  server = await httpsServer(pki, (req) => {
    const body = JSON.parse(req.body) as {
      rolloutId: string
      event: { seq: number; kind: string; receivedAt?: string }
    }
    const status = statusFor(body.rolloutId, body.event.seq)
    if (status < 300)
      posted.push({
        rolloutId: body.rolloutId,
        seq: body.event.seq,
        kind: body.event.kind,
        ...(body.event.receivedAt ? { receivedAt: body.event.receivedAt } : {}),
      })
    return status === 204 ? { status } : jsonReply({ error: `status ${status}` }, status)
  })
})
afterAll(() => server.stop())

let dir = ''
let outbox: Outbox
let metrics: Metrics
let logs: string[]
let drainer: Drainer

beforeEach(() => {
  dir = tempDir()
  outbox = new Outbox(dir)
  metrics = new Metrics()
  logs = []
  posted = []
  statusFor = () => 204
  drainer = makeDrainer(60_000)
})

/** A drainer over this test's outbox, passing every `intervalMs` when not kicked. */
function makeDrainer(intervalMs: number): Drainer {
  return new Drainer({
    outbox,
    client: new AgentClient({
      baseUrls: [server.url],
      identity: () => ({ ca: pki.ca.certPem }),
      userAgent: 't',
    }),
    machineId: 'web-01',
    clock: new FakeClock(5),
    log: createLogger({ component: 't', sink: (l) => void logs.push(l) }),
    metrics,
    intervalMs,
    backoffMaxMs: 1_000,
  })
}
afterEach(() => removeDir(dir))

function enqueue(rolloutId: string, seq: number): void {
  const event: OutboundAgentEvent = {
    kind: 'DispatchAck',
    seq,
    currentClosureAtDispatch: 'p',
    receivedAt: Date.UTC(2026, 0, 1),
  }
  outbox.enqueue({ rolloutId, seq, kind: event.kind, durable: true, createdAt: 1, event })
}

test('posts every rollout in seq order with RFC 3339 times', async () => {
  for (const s of [2, 1, 3]) enqueue(R1, s)
  enqueue(R2, 1)
  expect(await drainer.drainOnce()).toEqual({ posted: 4, deadLettered: 0, retry: false })
  expect(posted.map((p) => `${p.rolloutId}#${p.seq}`)).toEqual([
    `${R2}#1`,
    `${R1}#1`,
    `${R1}#2`,
    `${R1}#3`,
  ])
  expect(posted[0]!.receivedAt).toBe('2026-01-01T00:00:00.000Z')
  expect(outbox.depth()).toBe(0)
  expect(metrics.value(M.outboundDepth)).toBe(0)
})

test('a 5xx stops the pass; the same event (same seq) is posted on the next pass', async () => {
  for (const s of [1, 2, 3]) enqueue(R1, s)
  statusFor = (_r, seq) => (seq === 2 ? 503 : 204)
  expect(await drainer.drainOnce()).toEqual({ posted: 1, deadLettered: 0, retry: true })
  expect(outbox.depth()).toBe(2)
  expect(metrics.value(M.outboundDepth)).toBe(2)
  expect(logs.filter((l) => l.includes('event delivery failed; will retry')).length).toBe(1)
  statusFor = () => 204
  expect(await drainer.drainOnce()).toEqual({ posted: 2, deadLettered: 0, retry: false })
  expect(posted.map((p) => p.seq)).toEqual([1, 2, 3])
  expect(logs.some((l) => l.includes('event delivery recovered'))).toBe(true)
})

test('a 409 is dead-lettered with a log line and metric; later events still go', async () => {
  for (const s of [1, 2, 3]) enqueue(R1, s)
  statusFor = (_r, seq) => (seq === 2 ? 409 : 204)
  expect(await drainer.drainOnce()).toEqual({ posted: 2, deadLettered: 1, retry: false })
  expect(posted.map((p) => p.seq)).toEqual([1, 3])
  expect(outbox.deadLetterCount()).toBe(1)
  expect(metrics.value(M.deadLetters)).toBe(1)
  expect(metrics.value(M.deadLettered, { kind: 'DispatchAck', status: '409' })).toBe(1)
  const line = logs.find((l) => l.includes('"msg":"event dead-lettered"'))!
  expect(parseLogLine(line)!.record).toMatchObject({
    rolloutId: R1,
    seq: 2,
    status: 409,
    reason: 'HTTP 409: status 409',
  })
  // Nothing is retried later.
  statusFor = () => 204
  expect(await drainer.drainOnce()).toEqual({ posted: 0, deadLettered: 0, retry: false })
})

test('run() drains on kick and stops on abort', async () => {
  const ac = new AbortController()
  const running = drainer.run(ac.signal)
  enqueue(R1, 1)
  drainer.kick()
  for (let i = 0; i < 200 && posted.length === 0; i++) await Bun.sleep(10)
  expect(posted.map((p) => p.seq)).toEqual([1])
  ac.abort()
  await running
})

test('run() drains on its interval without a kick', async () => {
  const periodic = makeDrainer(50)
  const ac = new AbortController()
  const running = periodic.run(ac.signal)
  // A first event, kicked, so the loop has finished a pass and waits on its interval...
  enqueue(R1, 1)
  periodic.kick()
  for (let i = 0; i < 200 && posted.length === 0; i++) await Bun.sleep(10)
  expect(posted.map((p) => p.seq)).toEqual([1])
  // ...then one nobody kicks: only the periodic pass can post it.
  enqueue(R2, 1)
  for (let i = 0; i < 200 && posted.length < 2; i++) await Bun.sleep(10)
  expect(posted.map((p) => [p.rolloutId, p.seq])).toEqual([
    [R1, 1],
    [R2, 1],
  ])
  ac.abort()
  await running
})
