/**
 * One host, or one peer without a certificate, must not be able to hurt the control plane
 * (issue: disk fill by events, log flooding, connection exhaustion). Real CP, real SQLite file,
 * real mTLS on 127.0.0.1; every load loop is bounded in count and time.
 */
import { describe, expect, test } from 'bun:test'
import { connect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { createLogger, parseLogLine } from '../../src/runtime/log.ts'
import {
  activationEvents,
  closureOf,
  eventually,
  iso,
  labPerTest,
  startCp,
  T0,
  twoWaves,
  type FleetSpec,
} from './cp-support.ts'

const env = labPerTest()

/** A logger at info level whose lines land in `lines` (parsed). */
function capturingLog(lines: Record<string, unknown>[]) {
  return createLogger({
    component: 'cp-test',
    level: 'info',
    sink: (line) => lines.push(parseLogLine(line)!.record),
  })
}

const soaking: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
  channels: { stable: { waves: [['h1'], ['h2']], soakMinutes: 10 } },
}

/** Starts a CP with `limits` and brings h1 to Soaking; returns an event poster for h1. */
async function soakingHost(limits: Record<string, number>) {
  const { rolloutIds } = env.lab.publish(soaking)
  const rid = rolloutIds[0]!
  const t = (env.t = await startCp(env.lab, { config: { limits } }))
  const a1 = await t.agent('h1')
  const post = (event: Record<string, unknown>) =>
    a1.send('POST', '/v1/agent/events', { hostname: 'h1', rolloutId: rid, event })
  for (const event of activationEvents('h1').slice(0, 2))
    expect((await post(event)).status).toBe(204)
  expect(t.cp.state.host(rid, 'h1')?.phase).toBe('Soaking')
  const probe = (seq: number, over: Record<string, unknown> = {}) =>
    post({
      kind: 'ProbeResult',
      seq,
      probeName: 'http',
      mode: 'observe',
      status: 'pass',
      observedAt: iso(T0 + 63_000),
      ...over,
    })
  const stored = async () =>
    (await t.cp.store.events.ofKind('agent_event')).filter(
      (e) => e.host === 'h1' && e.payload['kind'] === 'ProbeResult'
    )
  return { t, rid, post, probe, stored }
}

describe('disk fill by events', () => {
  test('a host posting events faster than its rate gets 429 with Retry-After', async () => {
    const { t, probe, stored } = await soakingHost({ eventsPerMinute: 60, eventBurst: 5 })
    // Two tokens went to the activation; three probe results fit the burst.
    for (let seq = 3; seq <= 5; seq++) expect((await probe(seq)).status).toBe(204)
    const limited = await probe(6)
    expect(limited.status).toBe(429)
    expect(limited.headers['retry-after']).toBe('1')
    expect(limited.json()).toEqual({ error: 'too many events from this host; retry later' })
    // A bounded loop: nothing more gets through until time passes.
    for (let i = 0; i < 20; i++) expect((await probe(6)).status).toBe(429)
    expect(await stored()).toHaveLength(3)
    t.clock.advance(1000)
    expect((await probe(6)).status).toBe(204)
    expect((await probe(7)).status).toBe(429)
    expect((await t.operator.send('GET', '/metrics')).text).toContain(
      'nixfleet_cp_events_rate_limited_total 22'
    )
  })

  test('a huge failure reason is stored cut to the field limit with a marker; a huge event is 413', async () => {
    const { t, probe, stored } = await soakingHost({ eventFieldBytes: 4096, eventBytes: 65_536 })
    const reason = 'E'.repeat(900_000)
    expect((await probe(3, { status: 'fail', failureReason: reason })).status).toBe(204)
    const kept = (await stored())[0]!.payload['failureReason'] as string
    expect(kept.startsWith('EEEE')).toBe(true)
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(4096)
    const cut = /…\[truncated (\d+) bytes\]$/.exec(kept)
    expect(cut).not.toBeNull()
    expect(kept.indexOf('…') + Number(cut![1])).toBe(reason.length)
    // Many sub-results, each small, still make an event far above what one should store.
    const subResults = Array.from({ length: 3000 }, (_, i) => ({
      controlId: `control-${i}`,
      status: 'pass',
      framework: 'cis',
    }))
    const huge = await probe(4, { subResults })
    expect(huge.status).toBe(413)
    expect(huge.json()).toEqual({ error: 'event too large to store (limit 65536 bytes)' })
    expect(await stored()).toHaveLength(1)
    const metrics = (await t.operator.send('GET', '/metrics')).text
    expect(metrics).toContain('nixfleet_cp_events_truncated_total{kind="probe-result"} 1')
    expect(metrics).toContain('nixfleet_cp_events_too_large_total{kind="probe-result"} 1')
  })

  test('repeated probe results are kept per host up to the retention; the first failure stays', async () => {
    const { t, rid, probe, stored } = await soakingHost({ probeResultsKept: 8, eventBurst: 1000 })
    expect((await probe(3, { mode: 'enforce', status: 'fail' })).status).toBe(204)
    for (let seq = 4; seq < 64; seq++) expect((await probe(seq)).status).toBe(204)
    const rows = await stored()
    // The newest results, at most a quarter above the retention between trims, and the failure.
    expect(rows.length).toBeGreaterThanOrEqual(8)
    expect(rows.length).toBeLessThanOrEqual(8 + 2 + 1)
    expect(rows[0]!.payload).toMatchObject({ seq: 3, status: 'fail' })
    expect(rows.at(-1)!.payload['seq']).toBe(63)
    expect(await t.cp.store.safety.probeFailureKeys()).toEqual([
      { rolloutId: rid, host: 'h1', item: 'http' },
    ])
    const metrics = (await t.operator.send('GET', '/metrics')).text
    const pruned = Number(/nixfleet_cp_probe_results_pruned_total (\d+)/.exec(metrics)?.[1])
    expect(pruned).toBe(61 - rows.length)
  })
})

describe('log flooding', () => {
  test('identical refused events are logged once per interval, then with a count', async () => {
    const { rolloutIds } = env.lab.publish(twoWaves)
    const rid = rolloutIds[0]!
    const lines: Record<string, unknown>[] = []
    const t = (env.t = await startCp(env.lab, {
      cp: { log: capturingLog(lines) },
      config: { limits: { refusalLogIntervalMs: 60_000, eventBurst: 1000 } },
    }))
    const a2 = await t.agent('h2')
    // h2 waits in wave 2 (Pending): a completed activation is refused, every time.
    const refused = (seq: number) =>
      a2.send('POST', '/v1/agent/events', {
        hostname: 'h2',
        rolloutId: rid,
        event: {
          kind: 'ActivationCompleted',
          seq,
          observedCurrentClosure: closureOf('h2'),
          exitCode: 0,
          completedAt: iso(T0 + 62_000),
        },
      })
    for (let seq = 1; seq <= 50; seq++) expect((await refused(seq)).status).toBe(409)
    const refusals = () => lines.filter((l) => l['msg'] === 'agent event refused')
    expect(refusals()).toHaveLength(1)
    t.clock.advance(60_000)
    expect((await refused(51)).status).toBe(409)
    expect(refusals()).toHaveLength(2)
    expect(refusals()[1]).toMatchObject({ host: 'h2', repeated: 49 })
    expect((await t.operator.send('GET', '/metrics')).text).toContain(
      'nixfleet_cp_log_lines_suppressed_total 49'
    )
  })
})

/** A TCP connection to the CP that sends nothing; resolves `closed` when the CP drops it. */
function rawTcp(port: number): { socket: Socket; closed: Promise<number> } {
  const started = performance.now()
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const closed = new Promise<number>((r) =>
    socket.once('close', () => r(performance.now() - started))
  )
  return { socket, closed }
}

/** A TLS connection without a client certificate, once its handshake is done. */
async function anonymousTls(port: number): Promise<{ socket: TLSSocket; closed: Promise<number> }> {
  const socket = tlsConnect({
    port,
    host: '127.0.0.1',
    servername: 'localhost',
    ca: env.lab.ca.certPem,
  })
  socket.on('error', () => {})
  const closedAt = new Promise<number>((r) => socket.once('close', () => r(performance.now())))
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve())
    socket.once('close', () => reject(new Error('closed during the handshake')))
  })
  const started = performance.now()
  return { socket, closed: closedAt.then((t) => t - started) }
}

/** Whether `p` settles within `ms` (a bounded wait, not a sleep standing in for a condition). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), ms)))
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

describe('log flooding by a peer without a certificate', () => {
  test('bodies aborted mid-stream in a loop are logged once, then counted', async () => {
    env.lab.publish(twoWaves)
    const lines: Record<string, unknown>[] = []
    const t = (env.t = await startCp(env.lab, { cp: { log: capturingLog(lines) } }))
    for (let i = 0; i < 10; i++) {
      const { socket } = await anonymousTls(t.port)
      socket.write(
        'POST /v1/enroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
          'Content-Length: 1000\r\n\r\n{"token":'
      )
      // Once the CP's handler reads the body, the client goes away.
      await eventually(() => t.cp.server.connectionCount() === 1)
      socket.destroy()
      await eventually(() => t.cp.server.connectionCount() === 0)
    }
    const failed = () => lines.filter((l) => l['msg'] === 'request failed')
    await eventually(() => failed().length + t.cp.metrics.logSuppressed.get() === 10)
    expect(failed()).toHaveLength(1)
  })
})

describe('connection exhaustion without a certificate', () => {
  const limits = {
    handshakeTimeoutMs: 300,
    headersTimeoutMs: 300,
    bodyTimeoutMs: 300,
    maxPendingHandshakes: 4,
    maxAnonymousPerAddress: 6,
  }

  test('a peer that never finishes its handshake is dropped; beyond the pending cap at once', async () => {
    env.lab.publish(twoWaves)
    const t = (env.t = await startCp(env.lab, { config: { limits } }))
    const held = Array.from({ length: 4 }, () => rawTcp(t.port))
    // Wait until the CP has seen the four before the fifth comes.
    await eventually(() => t.cp.server.connectionCount() === 4)
    const fifth = rawTcp(t.port)
    expect(await within(fifth.closed, 2000)).toBeLessThan(250)
    for (const h of held) {
      const ms = await within(h.closed, 3000)
      expect(ms).not.toBe('pending')
      expect(ms).toBeGreaterThanOrEqual(250)
    }
    // Slots are free again: an agent is served.
    const a1 = await t.agent('h1')
    const hb = { hostname: 'h1', current_closure: null, at: iso(T0) }
    expect((await a1.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(200)
    const metrics = (await t.operator.send('GET', '/metrics')).text
    expect(metrics).toContain(
      'nixfleet_cp_connections_refused_total{reason="pending-handshakes"} 1'
    )
    expect(metrics).toContain('nixfleet_cp_connections_refused_total{reason="handshake-timeout"} 4')
  })

  test('connections without a certificate are capped per address and must send a request; agents are not', async () => {
    env.lab.publish(twoWaves)
    const t = (env.t = await startCp(env.lab, {
      config: {
        limits: {
          ...limits,
          handshakeTimeoutMs: 5000,
          headersTimeoutMs: 600,
          maxPendingHandshakes: 100,
        },
      },
    }))
    // An agent holds a kept-alive connection from the same address, longer than the limits.
    const a1 = await t.agent('h1')
    const hb = { hostname: 'h1', current_closure: null, at: iso(T0) }
    expect((await a1.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(200)
    const idle = await Promise.all(Array.from({ length: 6 }, () => anonymousTls(t.port)))
    const seventh = rawTcp(t.port)
    expect(await within(seventh.closed, 2000)).toBeLessThan(400)
    // The idle anonymous ones go after the headers timeout, not the 120 s keep-alive.
    for (const c of idle) expect(await within(c.closed, 3000)).toBeGreaterThanOrEqual(500)
    // A partial request head is no request either.
    const partial = await anonymousTls(t.port)
    partial.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n')
    expect(await within(partial.closed, 3000)).toBeGreaterThanOrEqual(500)
    // The agent's connection idled through all of it and is still the one in use.
    expect((await a1.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(200)
    const metrics = (await t.operator.send('GET', '/metrics')).text
    expect(metrics).toContain('nixfleet_cp_connections_refused_total{reason="per-address"} 1')
    expect(metrics).toContain('nixfleet_cp_connections_refused_total{reason="headers-timeout"} 7')
  })

  test('a request body that never finishes is reaped; a long-poll is not', async () => {
    env.lab.publish(twoWaves)
    const t = (env.t = await startCp(env.lab, { config: { limits } }))
    const id = await env.lab.agentCert('h2')
    const socket = tlsConnect({
      port: t.port,
      host: '127.0.0.1',
      servername: 'localhost',
      ca: env.lab.ca.certPem,
      cert: id.cert,
      key: id.key,
    })
    socket.on('error', () => {})
    const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now())))
    await new Promise<void>((r) => socket.once('secureConnect', () => r()))
    const sent = performance.now()
    socket.write(
      'POST /v1/agent/heartbeat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1000\r\n\r\n{"hostname":'
    )
    const ms = await within(
      closed.then((at) => at - sent),
      3000
    )
    expect(ms).not.toBe('pending')
    expect(ms).toBeGreaterThanOrEqual(250)
    // A long-poll of twice the body timeout answers 204 at its deadline.
    const a2 = await t.agent('h2')
    const started = performance.now()
    expect((await a2.send('GET', '/v1/agent/dispatch?wait=1')).status).toBe(204)
    expect(performance.now() - started).toBeGreaterThanOrEqual(900)
    expect((await t.operator.send('GET', '/metrics')).text).toContain(
      'nixfleet_cp_connections_refused_total{reason="body-timeout"} 1'
    )
  })
})

describe('bad input', () => {
  test('a token with a deeply nested unknown claim is 400, not 500', async () => {
    const tok = env.lab.token('h1', { now: Date.now() - 60_000 })
    env.lab.publish(twoWaves, { nonces: { bootstrapNonces: [tok.entry] } })
    const t = (env.t = await startCp(env.lab))
    t.clock.set(Date.now())
    const depth = 20_000
    const claims = JSON.stringify(tok.token['claims']).replace(
      /}$/,
      `,"extra":${'['.repeat(depth)}${']'.repeat(depth)}}`
    )
    const body = `{"token":{"version":1,"claims":${claims},"signature":"${tok.token['signature']}"},"csrPem":${JSON.stringify(await env.lab.csr('h1'))}}`
    const r = await t.anonymous().send('POST', '/v1/enroll', body)
    expect(r.status).toBe(400)
    expect(r.json()).toEqual({ error: 'JSON body nested too deeply' })
  })

  test('every enrolment refusal is logged with its reason, once a minute per host and reason', async () => {
    const used = env.lab.token('h1', { now: Date.now() - 60_000 })
    env.lab.publish(twoWaves, { nonces: { bootstrapNonces: [] } })
    const lines: Record<string, unknown>[] = []
    const t = (env.t = await startCp(env.lab, { cp: { log: capturingLog(lines) } }))
    t.clock.set(Date.now())
    const body = { token: used.token, csrPem: await env.lab.csr('h1') }
    for (let i = 0; i < 5; i++)
      expect((await t.anonymous().send('POST', '/v1/enroll', body)).status).toBe(401)
    expect((await t.anonymous().send('POST', '/v1/enroll', { token: 1 })).status).toBe(400)
    const refused = lines.filter((l) => l['msg'] === 'enrolment refused')
    expect(refused).toEqual([
      expect.objectContaining({
        level: 'warn',
        host: 'h1',
        status: 401,
        reason: 'token nonce is not in the signed bootstrap-nonces allow-list',
      }),
      expect.objectContaining({ level: 'warn', host: null, status: 400 }),
    ])
    // No access log unless asked for.
    expect(lines.some((l) => l['msg'] === 'request')).toBe(false)
  })

  test("an agent's refusal and re-anchoring, reported in its heartbeats, are logged once each", async () => {
    env.lab.publish(twoWaves)
    const lines: Record<string, unknown>[] = []
    const t = (env.t = await startCp(env.lab, { cp: { log: capturingLog(lines) } }))
    const a1 = await t.agent('h1')
    const beat = {
      hostname: 'h1',
      current_closure: 'old',
      at: iso(T0 + 60_000),
      reanchored_at: iso(T0),
      last_refusal: {
        rollout_id: null,
        kind: 'Stale',
        message: 'manifest signed 2h ago',
        at: iso(T0 + 30_000),
      },
    }
    for (let i = 0; i < 3; i++)
      expect((await a1.send('POST', '/v1/agent/heartbeat', beat)).status).toBe(200)
    expect(lines.filter((l) => l['msg'] === 'agent refused a dispatch or manifest')).toEqual([
      expect.objectContaining({
        level: 'warn',
        host: 'h1',
        kind: 'Stale',
        reason: 'manifest signed 2h ago',
      }),
    ])
    expect(lines.filter((l) => l['msg'] === 'host re-anchored its anti-rollback marks')).toEqual([
      expect.objectContaining({ level: 'info', host: 'h1' }),
    ])
  })

  test('--access-log logs each request with its route, status and caller; off by default', async () => {
    env.lab.publish(twoWaves)
    const lines: Record<string, unknown>[] = []
    const t = (env.t = await startCp(env.lab, {
      config: { accessLog: true },
      cp: { log: capturingLog(lines) },
    }))
    expect((await t.operator.send('GET', '/v1/hosts')).status).toBe(200)
    expect(lines.filter((l) => l['msg'] === 'request')).toEqual([
      expect.objectContaining({
        level: 'info',
        method: 'GET',
        path: '/v1/hosts',
        route: '/v1/hosts',
        status: 200,
        caller: 'operator-alice',
      }),
    ])
  })

  test('an unknown key of a strict operator body and a closure hash are not echoed', async () => {
    const { rolloutIds } = env.lab.publish(twoWaves)
    const t = (env.t = await startCp(env.lab))
    const r = await t.operator.send('POST', `/v1/operator/rollouts/${rolloutIds[0]}/resume`, {
      reason: 'x',
      'SECRET-KEY': 1,
    })
    expect(r.status).toBe(400)
    expect(r.text).not.toContain('SECRET-KEY')
    expect(r.json()).toEqual({
      error: 'invalid request body: unknown key',
      fields: { '(body)': 'unknown key' },
    })
    const c = await (await t.agent('h1')).send('GET', '/v1/agent/closure/SECRET-CLOSURE')
    expect(c.status).toBe(501)
    expect(c.text).not.toContain('SECRET-CLOSURE')
  })

  test('an encoded ? or / in a closure hash never reaches the upstream URL', async () => {
    const seen: string[] = []
    const upstream = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: (req) => {
        // The CP's availability check HEADs the same cache: only the proxy's GETs count here.
        if (req.method !== 'HEAD') seen.push(new URL(req.url).pathname + new URL(req.url).search)
        return new Response('StorePath: x\n')
      },
    })
    try {
      env.lab.publish(twoWaves)
      const t = (env.t = await startCp(env.lab, {
        config: { closureUpstream: `http://127.0.0.1:${upstream.port}` },
      }))
      const a1 = await t.agent('h1')
      for (const bad of ['abc%3Fx%3D1', 'abc%2F..%2Fsecret', 'abc%23frag', 'abc%3D'])
        expect((await a1.send('GET', `/v1/agent/closure/${bad}`)).status).toBe(400)
      expect(seen).toEqual([])
      const ok = await a1.send('GET', `/v1/agent/closure/${closureOf('h1')}`)
      expect(ok.status).toBe(200)
      expect(seen).toEqual([`/${closureOf('h1').slice(0, 32)}.narinfo`])
    } finally {
      upstream.stop(true)
    }
  })
})

describe("the host's clock and claims", () => {
  test('a seq jump toward 2^53 and event times far from the CP clock are refused', async () => {
    const { rolloutIds } = env.lab.publish(twoWaves)
    const rid = rolloutIds[0]!
    const t = (env.t = await startCp(env.lab))
    const a1 = await t.agent('h1')
    const ack = (seq: number, at: number) =>
      a1.send('POST', '/v1/agent/events', {
        hostname: 'h1',
        rolloutId: rid,
        event: {
          kind: 'DispatchAck',
          seq,
          currentClosureAtDispatch: 'old-h1',
          receivedAt: iso(at),
        },
      })
    const now = t.clock.now()
    for (const seq of [Number.MAX_SAFE_INTEGER, 1_000_001]) {
      const r = await ack(seq, now)
      expect(r.status).toBe(400)
      expect(r.json().error).toContain('seq jumps')
    }
    for (const at of [now + 86_400_000, now - 40 * 86_400_000]) {
      const r = await ack(1, at)
      expect(r.status).toBe(400)
      expect(r.json()).toEqual({
        error: 'event time is outside the window the control plane accepts',
      })
    }
    expect(await t.cp.store.events.ofKind('agent_event')).toHaveLength(0)
    // A clock a few minutes off is accepted.
    expect((await ack(1, now + 5 * 60_000)).status).toBe(204)
  })
})
