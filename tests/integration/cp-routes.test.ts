/**
 * Route-level tests of the CP app through `app.request()` (no sockets): every status code each
 * route can answer. The transport identity comes from two test headers through the `identify`
 * dependency — the one seam the server fills from the peer certificate; everything else (the
 * mutator, SQLite, the release source) is the real control plane.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { sha256Hex } from '../../src/crypto/sha256.ts'
import { createControlPlane, type ControlPlane } from '../../src/cp/main.ts'
import { FakeClock } from '../../src/runtime/clock.ts'
import { createLogger } from '../../src/runtime/log.ts'
import { closureOf, Lab, T0, type FleetSpec } from './cp-support.ts'

const AGENT = (h: string) => `agent-${h}.fleet.test`
const OP = 'operator-alice'
const VIEWER = 'viewer-grafana'
const iso = (ms: number): string => new Date(ms).toISOString()

let lab: Lab
let cp: ControlPlane
let rid = ''

const spec: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
  channels: { stable: { waves: [['h1'], ['h2']] } },
}

async function make(opts: { ready?: boolean; strict?: boolean } = {}): Promise<ControlPlane> {
  return createControlPlane(
    lab.config({
      database: { kind: 'sqlite', path: ':memory:' },
      strict: opts.strict ?? false,
      sources: { releaseDir: opts.ready === false ? lab.dir : `${lab.dir}/repo` },
    }),
    {
      clock: new FakeClock(T0 + 60_000),
      log: createLogger({ component: 't', level: 'error' }),
      version: 'test',
      identify: (c) => {
        const cn = c.req.header('x-test-cn')
        if (cn === undefined) return undefined
        return {
          cn,
          notBeforeMs: Number(c.req.header('x-test-nb') ?? T0),
          notAfterMs: T0 + 86_400_000,
          serialHex: '1',
          authorized: true,
        }
      },
    }
  )
}

function req(
  c: ControlPlane,
  method: string,
  path: string,
  opts: { cn?: string; body?: unknown; headers?: Record<string, string> } = {}
) {
  const headers: Record<string, string> = {
    ...(opts.cn !== undefined ? { 'x-test-cn': opts.cn } : {}),
    ...opts.headers,
  }
  let body: string | undefined
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body)
    headers['content-type'] ??= 'application/json'
  }
  return c.app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) })
}

beforeAll(async () => {
  lab = await Lab.create()
  rid = lab.publish(spec, {
    revocations: {
      revocations: [
        { hostname: 'h2', notBefore: '2026-05-01T12:30:00Z', reason: null, revokedBy: null },
      ],
    },
  }).rolloutIds[0]!
  cp = await make()
})
afterAll(async () => {
  await cp.stop()
  lab.cleanup()
})

describe('gates', () => {
  test('healthz is open; unknown routes are 404 JSON', async () => {
    const h = await req(cp, 'GET', '/healthz')
    expect(h.status).toBe(200)
    expect(await h.json()).toMatchObject({ ok: true, version: 'test', ready: true })
    const nf = await req(cp, 'GET', '/nope')
    expect(nf.status).toBe(404)
    expect(await nf.json()).toEqual({ error: 'no such route' })
  })

  test('readiness: 503 with Retry-After until a release is adopted', async () => {
    const empty = await make({ ready: false })
    try {
      const r = await req(empty, 'GET', '/v1/hosts', { cn: OP })
      expect(r.status).toBe(503)
      expect(r.headers.get('retry-after')).toBe('30')
      // What says why the CP is not ready answers anyway: the metrics and the status.
      const m = await req(empty, 'GET', '/metrics', { cn: VIEWER })
      expect(m.status).toBe(200)
      expect(await m.text()).toContain('\nnixfleet_cp_ready 0\n')
      const st = await req(empty, 'GET', '/v1/operator/status', { cn: OP })
      expect(st.status).toBe(200)
      expect(await st.json()).toMatchObject({ ready: false })
    } finally {
      await empty.stop()
    }
  })

  test('protocol header: 426 for another version, 400 for garbage, 400 when missing on an agent route under --strict', async () => {
    expect(
      (await req(cp, 'GET', '/v1/hosts', { cn: OP, headers: { 'x-nixfleet-protocol': '2' } }))
        .status
    ).toBe(426)
    expect(
      (await req(cp, 'GET', '/v1/hosts', { cn: OP, headers: { 'x-nixfleet-protocol': 'x' } }))
        .status
    ).toBe(400)
    expect((await req(cp, 'GET', '/v1/hosts', { cn: OP })).status).toBe(200)
    const strict = await make({ strict: true })
    try {
      // An operator's curl works without the header; agents must send it.
      expect((await req(strict, 'GET', '/v1/hosts', { cn: OP })).status).toBe(200)
      expect(
        (await req(strict, 'GET', '/v1/agent/dispatch?wait=0', { cn: AGENT('h1') })).status
      ).toBe(400)
      expect(
        (
          await req(strict, 'GET', '/v1/agent/dispatch?wait=0', {
            cn: AGENT('h1'),
            headers: { 'x-nixfleet-protocol': '1' },
          })
        ).status
      ).not.toBe(400)
    } finally {
      await strict.stop()
    }
  })

  test('identity: 401 without, 403 for the wrong role or an unknown CN, 401 when revoked', async () => {
    expect((await req(cp, 'GET', '/v1/hosts')).status).toBe(401)
    expect((await req(cp, 'GET', '/v1/hosts', { cn: AGENT('h1') })).status).toBe(403)
    expect((await req(cp, 'GET', '/v1/agent/dispatch?wait=0', { cn: OP })).status).toBe(403)
    expect((await req(cp, 'GET', '/v1/agent/dispatch?wait=0', { cn: 'h1' })).status).toBe(403)
    expect((await req(cp, 'GET', '/v1/agent/dispatch?wait=0', { cn: AGENT('h2') })).status).toBe(
      401
    )
    const fresh = await req(cp, 'GET', '/v1/agent/dispatch?wait=0', {
      cn: AGENT('h2'),
      headers: { 'x-test-nb': String(T0 + 3600_000) },
    })
    expect(fresh.status).toBe(204)
    expect((await req(cp, 'GET', '/metrics', { cn: AGENT('h1') })).status).toBe(403)
    expect((await req(cp, 'GET', '/metrics', { cn: OP })).status).toBe(200)
  })

  test('a viewer certificate reads every operator view and /metrics, and is refused every action', async () => {
    const m = await req(cp, 'GET', '/metrics', { cn: VIEWER })
    expect(m.status).toBe(200)
    expect(await m.text()).toContain('nixfleet_cp_ready 1')
    for (const path of [
      '/v1/hosts',
      '/v1/rollouts',
      `/v1/rollouts/${rid}/hosts`,
      '/v1/channels/stable',
      '/v1/deferrals',
      '/v1/operator/status',
      '/v1/operator/quarantines',
      '/v1/fleet.resolved',
    ])
      expect([path, (await req(cp, 'GET', path, { cn: VIEWER })).status]).toEqual([path, 200])
    // A rollout's detail, as an operator gets it; the signed manifest only when asked for.
    const detail = await req(cp, 'GET', `/v1/rollouts/${rid}`, { cn: VIEWER })
    expect(await detail.json()).toMatchObject({ id: rid, waves: expect.any(Array) })
    const signed = await req(cp, 'GET', `/v1/rollouts/${rid}?artifact=1`, { cn: VIEWER })
    expect(await signed.json()).toMatchObject({ channel: 'stable' })
    const who = await req(cp, 'GET', '/v1/whoami', { cn: VIEWER })
    expect(await who.json()).toMatchObject({ role: 'viewer', cn: VIEWER })
    for (const [path, body] of [
      [`/v1/operator/rollouts/${rid}/cancel`, { reason: 'x' }],
      [`/v1/operator/rollouts/${rid}/resume`, { reason: 'x' }],
      ['/v1/operator/quarantines/clear', { channel: 'stable', closure: 'c', reason: 'x' }],
      ['/v1/operator/refresh', {}],
    ] as const) {
      const r = await req(cp, 'POST', path, { cn: VIEWER, body })
      expect([path, r.status]).toEqual([path, 403])
      expect(((await r.json()) as { error: string }).error).toBe(
        'viewer certificates are read-only; this action needs an operator certificate'
      )
    }
    // Agent routes are not the operator surface.
    expect((await req(cp, 'GET', '/v1/agent/dispatch?wait=0', { cn: VIEWER })).status).toBe(403)
  })
})

describe('agent routes', () => {
  const hb = (host: string, extra: Record<string, unknown> = {}) => ({
    hostname: host,
    current_closure: 'old',
    at: iso(T0),
    ...extra,
  })

  test('heartbeat: 200 with bootstrap, 403 for another hostname, 400/415/413 for bad bodies', async () => {
    const r = await req(cp, 'POST', '/v1/agent/heartbeat', { cn: AGENT('h1'), body: hb('h1') })
    expect(r.status).toBe(200)
    const body = (await r.json()) as { bootstrap_rollouts: unknown[] }
    expect(body.bootstrap_rollouts).toHaveLength(1)
    expect(
      (await req(cp, 'POST', '/v1/agent/heartbeat', { cn: AGENT('h1'), body: hb('h2') })).status
    ).toBe(403)
    expect(
      (await req(cp, 'POST', '/v1/agent/heartbeat', { cn: AGENT('h1'), body: '{' })).status
    ).toBe(400)
    expect(
      (
        await req(cp, 'POST', '/v1/agent/heartbeat', {
          cn: AGENT('h1'),
          body: 'x',
          headers: { 'content-type': 'text/plain' },
        })
      ).status
    ).toBe(415)
    const big = await req(cp, 'POST', '/v1/agent/heartbeat', {
      cn: AGENT('h1'),
      body: JSON.stringify({ pad: 'x'.repeat(70_000) }),
    })
    expect(big.status).toBe(413)
    const shape = await req(cp, 'POST', '/v1/agent/heartbeat', {
      cn: AGENT('h1'),
      body: { hostname: 'h1', at: 'yesterday' },
    })
    expect(shape.status).toBe(400)
    expect(await shape.json()).toEqual({
      error: 'invalid request body: at: expected an RFC 3339 date-time',
      fields: { at: 'expected an RFC 3339 date-time' },
    })
  })

  test('dispatch: 200 once, then 204; 400 for a bad wait', async () => {
    const d = await req(cp, 'GET', '/v1/agent/dispatch?wait=0', { cn: AGENT('h1') })
    expect(d.status).toBe(200)
    expect(await d.json()).toMatchObject({
      hostname: 'h1',
      rollout_id: rid,
      target_closure: closureOf('h1'),
      wave_index: 0,
    })
    expect((await req(cp, 'GET', '/v1/agent/dispatch?wait=0', { cn: AGENT('h1') })).status).toBe(
      204
    )
    expect((await req(cp, 'GET', '/v1/agent/dispatch?wait=-1', { cn: AGENT('h1') })).status).toBe(
      400
    )
  })

  test('events: 204, 204 for a duplicate, 409 with the reason, 403 for another host', async () => {
    const ev = (seq: number) => ({
      hostname: 'h1',
      rolloutId: rid,
      event: {
        kind: 'DispatchAck',
        seq,
        currentClosureAtDispatch: 'old',
        receivedAt: iso(T0 + 61_000),
      },
    })
    expect(
      (await req(cp, 'POST', '/v1/agent/events', { cn: AGENT('h1'), body: ev(1) })).status
    ).toBe(204)
    expect(
      (await req(cp, 'POST', '/v1/agent/events', { cn: AGENT('h1'), body: ev(1) })).status
    ).toBe(204)
    const illegal = await req(cp, 'POST', '/v1/agent/events', { cn: AGENT('h1'), body: ev(2) })
    expect(illegal.status).toBe(409)
    expect(((await illegal.json()) as { error: string }).error).toContain(
      'RemoteDispatchAck is not legal'
    )
    expect(
      (
        await req(cp, 'POST', '/v1/agent/events', {
          cn: AGENT('h2'),
          headers: { 'x-test-nb': String(T0 + 3600_000) },
          body: ev(3),
        })
      ).status
    ).toBe(403)
  })

  test('closure proxy: 501 when not configured, 400 for a bad hash', async () => {
    const r = await req(cp, 'GET', `/v1/agent/closure/${closureOf('h1')}`, { cn: AGENT('h1') })
    expect(r.status).toBe(501)
    // The hash is not echoed back (error texts never carry input).
    expect(await r.json()).toEqual({
      error: 'closure proxy not configured',
      tracking: 'set --closure-upstream to a binary cache URL',
    })
    expect((await req(cp, 'GET', '/v1/agent/closure/a%20b', { cn: AGENT('h1') })).status).toBe(400)
  })

  test('an enrolment refusal is remembered: the host shows enrolment-refused with the reason', async () => {
    const other = await make()
    type Row = { enrolment: { state: string; reason: string | null }; problem: { kind: string } }
    const row = async (host: string) =>
      (await (await req(other, 'GET', `/v1/hosts/${host}`, { cn: OP })).json()) as Row
    expect((await row('h1')).enrolment.state).toBe('never')
    const token = { version: 1, claims: { hostname: 'h1' }, signature: 'x' }
    expect((await req(other, 'POST', '/v1/enroll', { body: { token, csrPem: 'x' } })).status).toBe(
      400
    )
    // A request behind it in the mutator's queue: the refusal was applied before it.
    await other.mutator.request({ type: 'PlanTick' })
    const h1 = await row('h1')
    expect(h1.enrolment.state).toBe('refused')
    expect(h1.enrolment.reason).toStartWith('invalid enrolment request: ')
    expect(h1.problem.kind).toBe('enrolment-refused')
    expect((await row('h2')).enrolment.state).toBe('never')
    // Its first heartbeat since: enrolled after all.
    const hb = await req(other, 'POST', '/v1/agent/heartbeat', {
      cn: AGENT('h1'),
      body: { hostname: 'h1', at: iso(T0) },
    })
    expect(hb.status).toBe(200)
    expect((await row('h1')).enrolment.state).toBe('enrolled')
    await other.stop()
  })

  test('enrol and renew: 400 for malformed requests', async () => {
    expect((await req(cp, 'POST', '/v1/enroll', { body: { token: 1 } })).status).toBe(400)
    expect(
      (await req(cp, 'POST', '/v1/agent/renew', { cn: AGENT('h1'), body: { csrPem: 'nope' } }))
        .status
    ).toBe(400)
  })
})

describe('artifacts and views', () => {
  test('signed artifacts byte for byte; 404 for unknown or malformed rollout ids', async () => {
    const f = await req(cp, 'GET', '/v1/fleet.resolved', { cn: AGENT('h1') })
    expect(f.status).toBe(200)
    expect(Buffer.from(await f.arrayBuffer()).equals(cp.state.release!.fleet.bytes)).toBe(true)
    expect(
      (await req(cp, 'GET', '/v1/fleet.resolved/sig', { cn: OP })).headers.get('content-type')
    ).toBe('application/octet-stream')
    expect((await req(cp, 'GET', `/v1/rollouts/${rid}`, { cn: AGENT('h1') })).status).toBe(200)
    expect(
      (await (await req(cp, 'GET', `/v1/rollouts/${rid}/sig`, { cn: AGENT('h1') })).arrayBuffer())
        .byteLength
    ).toBe(64)
    // A signature pinned to other bytes (a release adopted between the two requests) is a 409.
    const digest = sha256Hex(cp.state.release!.fleet.bytes)
    const pinned = await req(cp, 'GET', `/v1/fleet.resolved/sig?sha256=${digest}`, { cn: OP })
    expect(Buffer.from(await pinned.arrayBuffer()).equals(cp.state.release!.fleet.signature)).toBe(
      true
    )
    const stale = await req(cp, 'GET', `/v1/fleet.resolved/sig?sha256=${'0'.repeat(64)}`, {
      cn: OP,
    })
    expect(stale.status).toBe(409)
    expect(await stale.json()).toMatchObject({ sha256: digest })
    expect(
      (await req(cp, 'GET', `/v1/rollouts/${rid}/sig?sha256=${'0'.repeat(64)}`, { cn: OP })).status
    ).toBe(409)
    expect((await req(cp, 'GET', '/v1/rollouts/stable@ffff', { cn: AGENT('h1') })).status).toBe(404)
    expect((await req(cp, 'GET', '/v1/rollouts/NOT-AN-ID', { cn: AGENT('h1') })).status).toBe(404)
  })

  test('rollout views: list, lifecycle, hosts, events (200/400/404)', async () => {
    const list = (await (await req(cp, 'GET', '/v1/rollouts', { cn: OP })).json()) as {
      rollouts: { id: string }[]
    }
    expect(list.rollouts.map((r) => r.id)).toEqual([rid])
    const life = await req(cp, 'GET', `/v1/rollouts/${rid}/lifecycle`, { cn: OP })
    expect(await life.json()).toMatchObject({
      rolloutId: rid,
      state: 'Active',
      supersededBy: null,
      terminalAt: null,
    })
    expect((await req(cp, 'GET', '/v1/rollouts/bad/lifecycle', { cn: OP })).status).toBe(400)
    expect((await req(cp, 'GET', '/v1/rollouts/stable@ffff/lifecycle', { cn: OP })).status).toBe(
      404
    )
    const hosts = (await (
      await req(cp, 'GET', `/v1/rollouts/${rid}/hosts`, { cn: OP })
    ).json()) as { rolloutId: string; hosts: { host: string; wave: number }[] }
    expect(hosts.hosts.map((h) => [h.host, h.wave])).toEqual([
      ['h1', 0],
      ['h2', 1],
    ])
    expect((await req(cp, 'GET', '/v1/rollouts/stable@ffff/hosts', { cn: OP })).status).toBe(404)
    const events = (await (
      await req(cp, 'GET', `/v1/rollouts/${rid}/events?limit=2`, { cn: OP })
    ).json()) as { events: unknown[] }
    expect(events.events).toHaveLength(2)
    expect((await req(cp, 'GET', `/v1/rollouts/${rid}/events?limit=x`, { cn: OP })).status).toBe(
      400
    )
  })

  test('hosts, channels, deferrals, whoami', async () => {
    const hosts = (await (await req(cp, 'GET', '/v1/hosts', { cn: OP })).json()) as {
      hosts: { hostname: string; rolloutState: string; gate?: { gate: string } }[]
    }
    expect(hosts.hosts.map((h) => [h.hostname, h.rolloutState])).toEqual([
      ['h1', 'Activating'],
      ['h2', 'Pending'],
    ])
    expect(hosts.hosts[1]!.gate?.gate).toBe('wave-promotion')
    const ch = await req(cp, 'GET', '/v1/channels/stable', { cn: OP })
    expect(await ch.json()).toMatchObject({
      name: 'stable',
      declaredCiCommit: 'a'.repeat(39) + '1',
      freshnessWindowMinutes: 0,
      rolloutId: rid,
      stale: false,
    })
    const list = (await (await req(cp, 'GET', '/v1/channels', { cn: OP })).json()) as {
      channels: { name: string }[]
    }
    expect(list.channels.map((x) => x.name)).toEqual(['stable'])
    expect((await req(cp, 'GET', '/v1/channels/nope', { cn: OP })).status).toBe(404)
    const d = (await (await req(cp, 'GET', '/v1/deferrals', { cn: OP })).json()) as {
      deferrals: unknown[]
      hostDeferrals: { hostname: string }[]
    }
    expect(d.deferrals).toEqual([])
    expect(d.hostDeferrals.map((x) => x.hostname)).toEqual(['h2'])
    expect(await (await req(cp, 'GET', '/v1/whoami', { cn: OP })).json()).toMatchObject({
      cn: OP,
      role: 'operator',
    })
  })

  test('operator actions: 404, 409, 400 and the status view', async () => {
    expect((await req(cp, 'GET', '/v1/operator/quarantines', { cn: OP })).status).toBe(200)
    expect(
      (
        await req(cp, 'POST', '/v1/operator/quarantines/clear', {
          cn: OP,
          body: { channel: 'stable', closure: 'x', reason: 'r' },
        })
      ).status
    ).toBe(404)
    expect(
      (
        await req(cp, 'POST', '/v1/operator/rollouts/stable@ffff/resume', {
          cn: OP,
          body: { reason: 'r' },
        })
      ).status
    ).toBe(404)
    expect(
      (
        await req(cp, 'POST', `/v1/operator/rollouts/${rid}/resume`, {
          cn: OP,
          body: { reason: 'r' },
        })
      ).status
    ).toBe(409)
    expect(
      (
        await req(cp, 'POST', `/v1/operator/rollouts/${rid}/resume`, {
          cn: OP,
          body: { reason: '' },
        })
      ).status
    ).toBe(400)
    expect(
      (
        await req(cp, 'POST', `/v1/operator/rollouts/${rid}/resume`, {
          cn: OP,
          body: { reason: 'r', typo: true },
        })
      ).status
    ).toBe(400)
    const status = (await (await req(cp, 'GET', '/v1/operator/status', { cn: OP })).json()) as {
      ready: boolean
      release: { rollouts: string[] }
    }
    expect(status.ready).toBe(true)
    expect(status.release.rollouts).toEqual([rid])
    const refresh = await req(cp, 'POST', '/v1/operator/refresh', { cn: OP })
    expect(refresh.status).toBe(200)
    expect((await req(cp, 'POST', '/v1/webhook/refresh')).status).toBe(404)
  })

  test('a denied operator certificate is refused at its next request, until allowed', async () => {
    const BOB = 'operator-bob'
    expect((await req(cp, 'GET', '/v1/operator/denials', { cn: BOB })).status).toBe(200)
    const deny = await req(cp, 'POST', `/v1/operator/operators/${BOB}/deny`, {
      cn: OP,
      body: { reason: 'key leaked' },
    })
    expect(deny.status).toBe(200)
    const refused = await req(cp, 'GET', '/v1/hosts', { cn: BOB })
    expect(refused.status).toBe(401)
    expect(await refused.json()).toEqual({ error: `certificate denied by ${OP}: key leaked` })
    // Bob cannot lift it himself.
    const self = await req(cp, 'POST', `/v1/operator/operators/${BOB}/allow`, {
      cn: BOB,
      body: { reason: 'x' },
    })
    expect(self.status).toBe(401)
    expect(
      (
        await req(cp, 'POST', `/v1/operator/operators/${BOB}/allow`, {
          cn: OP,
          body: { reason: 'rotated' },
        })
      ).status
    ).toBe(200)
    expect((await req(cp, 'GET', '/v1/hosts', { cn: BOB })).status).toBe(200)
  })

  test('a stopped mutator answers 503 with Retry-After', async () => {
    const other = await make()
    await other.mutator.stop()
    const r = await req(other, 'POST', '/v1/agent/heartbeat', {
      cn: AGENT('h1'),
      body: { hostname: 'h1', at: iso(T0) },
    })
    expect(r.status).toBe(503)
    expect(r.headers.get('retry-after')).toBe('1')
    await other.stop()
  })
})
