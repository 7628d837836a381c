/**
 * One host, or one peer without a certificate, must not be able to hurt the control plane
 * (issue: disk fill by events, log flooding, connection exhaustion). Real CP, real SQLite file,
 * real mTLS on 127.0.0.1; every load loop is bounded in count and time.
 */
import { describe, expect, test } from 'bun:test'
import { createLogger } from '../../src/runtime/log.ts'
import {
  activationEvents,
  closureOf,
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
    sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
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
  const stored = () =>
    t.cp.store.events
      .ofKind('agent_event')
      .filter((e) => e.host === 'h1' && e.payload['kind'] === 'ProbeResult')
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
    expect(stored()).toHaveLength(3)
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
    const kept = stored()[0]!.payload['failureReason'] as string
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
    expect(stored()).toHaveLength(1)
    const metrics = (await t.operator.send('GET', '/metrics')).text
    expect(metrics).toContain('nixfleet_cp_events_truncated_total{kind="ProbeResult"} 1')
    expect(metrics).toContain('nixfleet_cp_events_too_large_total{kind="ProbeResult"} 1')
  })

  test('repeated probe results are kept per host up to the retention; the first failure stays', async () => {
    const { t, rid, probe, stored } = await soakingHost({ probeResultsKept: 8, eventBurst: 1000 })
    expect((await probe(3, { mode: 'enforce', status: 'fail' })).status).toBe(204)
    for (let seq = 4; seq < 64; seq++) expect((await probe(seq)).status).toBe(204)
    const rows = stored()
    // The newest results, at most a quarter above the retention between trims, and the failure.
    expect(rows.length).toBeGreaterThanOrEqual(8)
    expect(rows.length).toBeLessThanOrEqual(8 + 2 + 1)
    expect(rows[0]!.payload).toMatchObject({ seq: 3, status: 'fail' })
    expect(rows.at(-1)!.payload['seq']).toBe(63)
    expect(t.cp.store.safety.probeFailureKeys()).toEqual([
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
