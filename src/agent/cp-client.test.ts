/**
 * The agent's HTTP client against a local HTTPS stand-in: the protocol header on every request,
 * response validation, the long-poll's 204, Replay-From, error classification, and the single
 * retry of an idempotent request whose kept-alive socket was reset.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import {
  httpsServer,
  jsonReply,
  testPki,
  type TestPki,
  type TestReply,
  type TestServer,
} from '../../tests/support/fixtures.ts'
import { sha256Hex } from '../crypto/sha256.ts'
import { issueServerCert } from '../pki/ca.ts'
import { AgentClient, describeClientError, isRetryable } from './cp-client.ts'

let pki: TestPki
let server: TestServer
const seen: { method: string; path: string; protocol: string | null; body: string }[] = []
let next: () => TestReply = () => ({ status: 204 })

beforeAll(async () => {
  pki = await testPki()
  server = await httpsServer(pki, (req) => {
    const protocol = req.headers['x-nixfleet-protocol']
    seen.push({
      method: req.method,
      path: req.path,
      protocol: typeof protocol === 'string' ? protocol : null,
      body: req.body,
    })
    return next()
  })
})
afterAll(() => server.stop())

const client = (url = server.url) =>
  new AgentClient({ baseUrls: [url], identity: () => ({ ca: pki.ca.certPem }), userAgent: 'test' })
const ro = { timeoutMs: 5_000 }
const json = jsonReply

describe('AgentClient', () => {
  test('every request carries X-Nixfleet-Protocol: 1', async () => {
    seen.length = 0
    next = () => ({ status: 204 })
    await client().pollDispatch(0, ro)
    await client().postEvent({ hostname: 'h', rolloutId: 'stable@ab', event: { kind: 'X' } }, ro)
    next = () => ({ status: 200, body: 'x' })
    await client().fetchFleet(ro)
    expect(seen.map((s) => [s.method, s.path, s.protocol])).toEqual([
      ['GET', '/v1/agent/dispatch?wait=0', '1'],
      ['POST', '/v1/agent/events', '1'],
      ['GET', '/v1/fleet.resolved', '1'],
      // The signature is pinned to the digest of the bytes just fetched ('x').
      ['GET', `/v1/fleet.resolved/sig?sha256=${sha256Hex(new TextEncoder().encode('x'))}`, '1'],
    ])
    expect(JSON.parse(seen[1]!.body)).toEqual({
      hostname: 'h',
      rolloutId: 'stable@ab',
      event: { kind: 'X' },
    })
  })

  test('dispatch: 204 is "nothing", 200 is validated', async () => {
    next = () => ({ status: 204 })
    expect(await client().pollDispatch(1, ro)).toEqual({ ok: true, value: null })
    const d = {
      hostname: 'web-01',
      rollout_id: 'stable@abc',
      target_closure: 'x-nixos',
      soak_due_at: '2026-01-01T00:00:00Z',
      enqueued_at: '2026-01-01T00:00:00Z',
    }
    next = () => json(d)
    expect(await client().pollDispatch(1, ro)).toMatchObject({
      ok: true,
      value: { rollout_id: 'stable@abc', target_closure: 'x-nixos' },
    })
    next = () => json({ ...d, rollout_id: 'not an id' })
    const bad = await client().pollDispatch(1, ro)
    expect(bad).toMatchObject({ ok: false, error: { kind: 'invalid' } })
    expect(!bad.ok && bad.error.message).toStartWith('dispatch: rollout_id:')
  })

  test('heartbeat: the reply is validated and Replay-From surfaced', async () => {
    next = () =>
      json({ received_at: '2026-01-01T00:00:00Z' }, 200, { 'X-Nixfleet-Replay-From': '7' })
    const r = await client().heartbeat(
      {
        hostname: 'web-01',
        rollout_id: 'stable@ab',
        current_closure: null,
        at: '2026-01-01T00:00:00Z',
      },
      ro
    )
    expect(r).toEqual({
      ok: true,
      value: {
        response: { received_at: '2026-01-01T00:00:00Z', bootstrap_rollouts: undefined },
        replayFrom: 7,
      },
    })
  })

  test('errors are classified: 4xx is final (but 408/429), 5xx and network retryable', async () => {
    next = () => json({ error: 'illegal transition', reason: 'Converged' }, 409)
    const r409 = await client().postEvent({ hostname: 'h', rolloutId: 'stable@ab', event: {} }, ro)
    expect(r409).toEqual({
      ok: false,
      error: {
        kind: 'status',
        status: 409,
        message: 'illegal transition: Converged',
        retryAfterSecs: undefined,
      },
    })
    expect(!r409.ok && isRetryable(r409.error)).toBe(false)
    next = () => json({ error: 'busy' }, 503, { 'retry-after': '3' })
    const r503 = await client().postEvent({ hostname: 'h', rolloutId: 'stable@ab', event: {} }, ro)
    expect(!r503.ok && r503.error).toEqual({
      kind: 'status',
      status: 503,
      message: 'busy',
      retryAfterSecs: 3,
    })
    expect(!r503.ok && isRetryable(r503.error)).toBe(true)
    for (const status of [408, 429]) {
      next = () => ({ status, body: '' })
      const r = await client().postEvent({ hostname: 'h', rolloutId: 'stable@ab', event: {} }, ro)
      expect(!r.ok && isRetryable(r.error)).toBe(true)
    }
    const refused = await client('https://127.0.0.1:1').postEvent(
      { hostname: 'h', rolloutId: 'stable@ab', event: {} },
      ro
    )
    expect(refused).toMatchObject({ ok: false, error: { kind: 'network', code: 'ECONNREFUSED' } })
    expect(!refused.ok && describeClientError(refused.error)).toStartWith('network error:')
  })

  test('a caller abort is "aborted", a deadline is "timeout"', async () => {
    next = () => ({ status: 204 })
    const slow = await httpsServer(pki, async () => {
      await Bun.sleep(1_000)
      return { status: 204 }
    })
    try {
      const t = await client(slow.url).pollDispatch(1, { timeoutMs: 100 })
      expect(t).toMatchObject({ ok: false, error: { kind: 'timeout' } })
      const ac = new AbortController()
      setTimeout(() => ac.abort(), 50)
      const a = await client(slow.url).pollDispatch(1, { timeoutMs: 5_000, signal: ac.signal })
      expect(a).toMatchObject({ ok: false, error: { kind: 'aborted' } })
    } finally {
      slow.stop()
    }
  })

  test('an idempotent request is retried once when its connection is reset', async () => {
    // A raw TLS server: the first connection is reset on the first byte; later ones answer 204.
    let connections = 0
    const tls: TlsServer = createTlsServer(
      { cert: pki.server.certPem, key: pki.server.keyPem },
      (socket) => {
        connections++
        const first = connections === 1
        socket.once('data', () => {
          if (first) socket.destroy()
          else socket.end('HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n')
        })
      }
    )
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()))
    const port = (tls.address() as { port: number }).port
    try {
      const r = await client(`https://127.0.0.1:${port}`).postEvent(
        { hostname: 'h', rolloutId: 'stable@ab', event: {} },
        ro
      )
      expect(r).toEqual({ ok: true, value: 204 })
      expect(connections).toBe(2)
      connections = 0
      const e = await client(`https://127.0.0.1:${port}`).enroll({ token: {}, csrPem: 'x' }, ro)
      expect(e).toMatchObject({ ok: false, error: { kind: 'network' } })
      expect(connections).toBe(1) // enrollment is never retried
    } finally {
      tls.close()
    }
  })

  test('a certificate for other names is a configuration error naming the host and the names', async () => {
    const server = await issueServerCert({
      ca: pki.ca,
      names: ['cp.example.org', '10.9.9.9'],
      now: Date.now(),
      validityDays: 30,
    })
    const other = await httpsServer({ ...pki, server }, () => ({ status: 204 }))
    try {
      const r = await client(other.url).fetchFleet(ro)
      expect(r).toMatchObject({ ok: false, error: { kind: 'config' } })
      const text = r.ok ? '' : describeClientError(r.error)
      expect(text).toBe(
        "TLS: the control plane's certificate does not name 127.0.0.1 (it names DNS:cp.example.org, IP Address:10.9.9.9): point --control-plane-url at one of those names, or reissue the control plane's certificate for 127.0.0.1"
      )
      // Not transient: retrying unchanged cannot help (the workers back off to their cap).
      expect(!r.ok && isRetryable(r.error)).toBe(false)
    } finally {
      other.stop()
    }
  })
})
