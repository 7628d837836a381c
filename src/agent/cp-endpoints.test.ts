/**
 * The client with several control planes, against local HTTPS stand-ins: a dead first URL is
 * skipped and the live one kept; a 503 moves the request (and the event it carries, re-sent) to
 * the next; a single-use enrollment moves only when it never left; a name with several addresses
 * is tried address by address while TLS checks the name; the backoff is the injected one; one
 * log line and one counter increment per switch; a single URL never switches.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  freePort,
  httpsServer,
  testPki,
  type TestPki,
  type TestReply,
  type TestRequest,
  type TestServer,
} from '../../tests/support/fixtures.ts'
import { issueServerCert } from '../pki/ca.ts'
import { createLogger, parseLogLine } from '../runtime/log.ts'
import { AgentClient } from './cp-client.ts'
import type { FailoverDeps } from './cp-endpoints.ts'
import { M, Metrics } from './metrics.ts'

let pki: TestPki
const ro = { timeoutMs: 5_000 }
const event = { hostname: 'h', rolloutId: 'stable@ab', event: { kind: 'X', seq: 1 } }

/** A stand-in CP that records what it was sent and answers with `reply`. */
async function standIn(
  reply: (req: TestRequest) => TestReply,
  p: TestPki = pki
): Promise<TestServer & { seen: TestRequest[] }> {
  const seen: TestRequest[] = []
  const s = await httpsServer(p, (req) => {
    seen.push(req)
    return reply(req)
  })
  return Object.assign(s, { seen })
}

/** The test PKI with a server certificate for `name` only. */
const pkiNaming = async (name: string): Promise<TestPki> => ({
  ...pki,
  server: await issueServerCert({ ca: pki.ca, names: [name], now: Date.now(), validityDays: 30 }),
})

/** Injected backoff: sleeps are recorded and return at once; the jitter is fixed. */
function harness(extra: Partial<FailoverDeps> = {}) {
  const sleeps: number[] = []
  const lines: string[] = []
  const metrics = new Metrics()
  let now = 0
  const deps: FailoverDeps = {
    random: () => 0.5,
    timers: {
      monotonicMs: () => now,
      sleep: async (ms) => {
        sleeps.push(ms)
        now += ms
      },
    },
    log: createLogger({ component: 't', sink: (l) => void lines.push(l) }),
    metrics,
    ...extra,
  }
  const switches = () =>
    lines
      .map((l) => parseLogLine(l)?.record ?? {})
      .filter((r) => r['msg'] === 'control plane switch')
  return { deps, sleeps, lines, metrics, switches }
}

const client = (urls: readonly string[], failover: FailoverDeps) =>
  new AgentClient({
    baseUrls: urls,
    identity: () => ({ ca: pki.ca.certPem }),
    userAgent: 'test',
    failover,
  })

beforeAll(async () => {
  pki = await testPki()
})

describe('several control planes', () => {
  const servers: TestServer[] = []
  afterAll(() => servers.forEach((s) => s.stop()))

  test('a dead first URL is left for the live one, which the agent then keeps', async () => {
    const live = await standIn(() => ({ status: 204 }))
    servers.push(live)
    const dead = `https://127.0.0.1:${await freePort()}`
    const h = harness()
    const c = client([dead, live.url], h.deps)
    expect(await c.postEvent(event, ro)).toEqual({ ok: true, value: 204 })
    expect(await c.pollDispatch(0, ro)).toEqual({ ok: true, value: null })
    expect(await c.postEvent(event, ro)).toEqual({ ok: true, value: 204 })
    expect(live.seen).toHaveLength(3)
    expect(c.endpoints.currentUrl).toBe(live.url)
    // One switch: one line (from, to, why), one count, one backoff (full jitter of 1 s at 0.5).
    expect(h.switches()).toHaveLength(1)
    expect(h.switches()[0]).toMatchObject({
      level: 'info',
      component: 't',
      from: dead,
      to: live.url,
      reason: 'connection failed (ECONNREFUSED)',
      retryInMs: 500,
    })
    expect(h.sleeps).toEqual([500])
    expect(h.metrics.value(M.cpSwitches)).toBe(1)
    expect(h.metrics.value(M.cpCurrent, { index: '1', url: live.url })).toBe(1)
  })

  test('a 503 moves the request to the next control plane, which gets the same event', async () => {
    const busy = await standIn(() => ({ status: 503, body: '{"error":"not leader"}' }))
    const other = await standIn(() => ({ status: 204 }))
    servers.push(busy, other)
    const h = harness()
    const c = client([busy.url, other.url], h.deps)
    expect(await c.postEvent(event, ro)).toEqual({ ok: true, value: 204 })
    expect(busy.seen.map((r) => r.body)).toEqual([JSON.stringify(event)])
    expect(other.seen.map((r) => r.body)).toEqual([JSON.stringify(event)])
    expect(h.switches()[0]).toMatchObject({ reason: 'HTTP 503' })
    // A 4xx is an answer: the agent stays, and the error reaches the caller.
    const refusing = await standIn(() => ({ status: 409, body: '{"error":"illegal"}' }))
    servers.push(refusing)
    const h2 = harness()
    const c2 = client([refusing.url, other.url], h2.deps)
    const r = await c2.postEvent(event, ro)
    expect(r).toMatchObject({ ok: false, error: { kind: 'status', status: 409 } })
    expect(h2.switches()).toEqual([])
    expect(c2.endpoints.currentUrl).toBe(refusing.url)
  })

  test('when every control plane fails, the request tries each once and reports the last error', async () => {
    const a = await standIn(() => ({ status: 502 }))
    const b = await standIn(() => ({ status: 504 }))
    servers.push(a, b)
    const h = harness()
    const c = client([a.url, b.url], h.deps)
    const r = await c.postEvent(event, ro)
    expect(r).toMatchObject({ ok: false, error: { kind: 'status', status: 504 } })
    expect([a.seen.length, b.seen.length]).toEqual([1, 1])
    // Two moves (a → b → a), the second one waiting twice as long at most.
    expect(h.sleeps).toEqual([500])
    expect(h.switches().map((r) => r['retryInMs'])).toEqual([500, 1_000])
    // The next request goes to a after the pending backoff, then round again, waiting longer.
    await c.postEvent(event, ro)
    expect(h.sleeps).toEqual([500, 1_000, 2_000])
    expect([a.seen.length, b.seen.length]).toEqual([2, 2])
  })

  test('a single-use enrollment moves on only when it was never sent', async () => {
    const enrolled = await standIn(() => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{}',
    }))
    servers.push(enrolled)
    const dead = `https://127.0.0.1:${await freePort()}`
    const h = harness()
    await client([dead, enrolled.url], h.deps).enroll({ token: {}, csrPem: 'x' }, ro)
    expect(enrolled.seen.map((r) => r.path)).toEqual(['/v1/enroll'])
    // A 503 may have consumed nothing, but the client cannot know: the caller retries later.
    const busy = await standIn(() => ({ status: 503 }))
    servers.push(busy)
    const h2 = harness()
    const c = client([busy.url, enrolled.url], h2.deps)
    const r = await c.enroll({ token: {}, csrPem: 'x' }, ro)
    expect(r).toMatchObject({ ok: false, error: { kind: 'status', status: 503 } })
    expect(enrolled.seen).toHaveLength(1)
    expect(c.endpoints.currentUrl).toBe(enrolled.url)
  })

  test('a name with several addresses is tried address by address; TLS checks the name', async () => {
    const live = await standIn(() => ({ status: 204 }), await pkiNaming('cp.test'))
    servers.push(live)
    const port = new URL(live.url).port
    const looked: string[] = []
    const h = harness({
      resolve: async (name) => {
        looked.push(name)
        // The first address has nothing listening on that port.
        return ['::1', '127.0.0.1']
      },
    })
    const c = client([`https://cp.test:${port}`], h.deps)
    expect(await c.postEvent(event, ro)).toEqual({ ok: true, value: 204 })
    expect(looked).toEqual(['cp.test'])
    expect(live.seen[0]!.headers['host']).toBe(`cp.test:${port}`)
    expect(h.switches()[0]).toMatchObject({
      from: `https://cp.test:${port} (::1)`,
      to: `https://cp.test:${port} (127.0.0.1)`,
    })
    // The name is what TLS verifies: a certificate for another name is refused at the address.
    const impostor = await standIn(() => ({ status: 204 }), await pkiNaming('other.test'))
    servers.push(impostor)
    const h2 = harness({ resolve: async () => ['::1', '127.0.0.1', '::1'] })
    const ip = client([`https://cp.test:${new URL(impostor.url).port}`], h2.deps)
    expect(await ip.postEvent(event, ro)).toMatchObject({ ok: false, error: { kind: 'config' } })
    expect(impostor.seen).toEqual([])
  })

  test('a single URL never switches: no line, no count, no wait', async () => {
    const dead = `https://127.0.0.1:${await freePort()}`
    const h = harness()
    const c = client([dead], h.deps)
    for (let i = 0; i < 3; i++) {
      const r = await c.postEvent(event, ro)
      expect(r).toMatchObject({ ok: false, error: { kind: 'network', code: 'ECONNREFUSED' } })
    }
    expect(h.switches()).toEqual([])
    expect(h.sleeps).toEqual([])
    expect(h.metrics.value(M.cpSwitches)).toBeUndefined()
  })
})
