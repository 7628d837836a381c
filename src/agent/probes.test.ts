/**
 * Probe runners against real local servers, commands and signed evidence files, plus the probe
 * worker's event sequence (topology, first observation, first failure, results).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import * as v from 'valibot'
import type { Unsequenced } from '../core/index.ts'
import { canonicalize } from '../crypto/canonical-json.ts'
import { ed25519PublicKey, ed25519Sign } from '../crypto/ed25519.ts'
import { toBase64 } from '../lib/bytes.ts'
import { ProbeDeclarationSchema } from '../proto/agent.ts'
import { FakeClock } from '../runtime/clock.ts'
import { createLogger } from '../runtime/log.ts'
import { removeDir, seedOf, tempDir, waitFor } from '../../tests/support/fixtures.ts'
import { Metrics, M } from './metrics.ts'
import { CONFIG_PROBE_NAME, loadHealthChecks, ProbeWorker } from './workers/probes.ts'
import { runProbe, truncateReason, type ProbeContext } from './probes.ts'

const decl = (x: Record<string, unknown>) => v.parse(ProbeDeclarationSchema, x)
const HOST_SEED = seedOf('web-01')
const ctx: ProbeContext = {
  machineId: 'web-01',
  hostPublicKey: () => ({ ok: true, key: ed25519PublicKey(HOST_SEED) }),
}

let dir = ''
// node:http rather than Bun.serve: other test files replace the global Response (see fixtures).
let http: HttpServer
let httpPort = 0
let tcp: Server
let tcpPort = 0

beforeAll(async () => {
  dir = tempDir()
  http = createHttpServer((req, res) => {
    const reply = () => {
      res.writeHead(req.url === '/down' ? 503 : 200)
      res.end('x')
    }
    if (req.url === '/slow') setTimeout(reply, 2_000)
    else reply()
  })
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()))
  httpPort = (http.address() as { port: number }).port
  tcp = createServer((s) => s.end())
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()))
  tcpPort = (tcp.address() as { port: number }).port
})
afterAll(() => {
  http.closeAllConnections()
  http.close()
  tcp.close()
  removeDir(dir)
})

describe('http', () => {
  test('pass on the expected status, fail otherwise or on timeout', async () => {
    const base = `http://127.0.0.1:${httpPort}`
    expect(await runProbe(decl({ kind: 'http', url: `${base}/ok` }), ctx)).toEqual({
      status: 'pass',
      failureReason: null,
      subResults: null,
    })
    expect(await runProbe(decl({ kind: 'http', url: `${base}/down` }), ctx)).toMatchObject({
      status: 'fail',
      failureReason: 'HTTP 503, expected 200',
    })
    expect(
      await runProbe(decl({ kind: 'http', url: `${base}/down`, expectStatus: 503 }), ctx)
    ).toMatchObject({ status: 'pass' })
    expect(
      await runProbe(decl({ kind: 'http', url: `${base}/slow`, timeoutSecs: 0.2 }), ctx)
    ).toMatchObject({ status: 'fail', failureReason: 'no response within 0.2 s' })
    expect(await runProbe(decl({ kind: 'http' }), ctx)).toMatchObject({
      status: 'fail',
      failureReason: 'http probe has no url',
    })
  })

  test('a refused connection is a failure with a reason', async () => {
    const out = await runProbe(decl({ kind: 'http', url: 'http://127.0.0.1:1/' }), ctx)
    expect(out.status).toBe('fail')
    expect(out.failureReason).toStartWith('request failed:')
  })
})

describe('tcp', () => {
  test('connects to a listening port; fails on a closed one', async () => {
    expect(await runProbe(decl({ kind: 'tcp', port: tcpPort }), ctx)).toMatchObject({
      status: 'pass',
    })
    const closed = await runProbe(decl({ kind: 'tcp', port: 1 }), ctx)
    expect(closed).toMatchObject({ status: 'fail' })
    expect(closed.failureReason).toContain('ECONNREFUSED')
  })
})

describe('exec', () => {
  test('exit 0 passes; non-zero fails with the last stderr lines; timeouts fail', async () => {
    expect(await runProbe(decl({ kind: 'exec', command: ['true'] }), ctx)).toMatchObject({
      status: 'pass',
    })
    const f = await runProbe(
      decl({ kind: 'exec', command: 'echo a >&2; echo b >&2; echo c >&2; echo d >&2; exit 3' }),
      ctx
    )
    expect(f).toEqual({ status: 'fail', failureReason: 'exit status 3: b\nc\nd', subResults: null })
    const t = await runProbe(decl({ kind: 'exec', command: ['sleep', '5'], timeoutSecs: 0.2 }), ctx)
    expect(t).toMatchObject({ status: 'fail', failureReason: 'timed out after 0.2 s' })
    const missing = await runProbe(decl({ kind: 'exec', command: ['/nonexistent/probe'] }), ctx)
    expect(missing.status).toBe('fail')
  })
})

describe('evidence', () => {
  const write = (name: string, body: unknown, seed = HOST_SEED): string => {
    const path = join(dir, name)
    const text = JSON.stringify(body)
    writeFileSync(path, text)
    writeFileSync(
      `${path}.sig`,
      toBase64(ed25519Sign(canonicalize(new TextEncoder().encode(text)), seed))
    )
    return path
  }
  const evidence = {
    schemaVersion: 1,
    hostname: 'web-01',
    collectedAt: '2026-01-01T00:00:00Z',
    controls: [
      { controlId: 'ssh-root', passed: true, frameworkArticles: { cis: ['5.2.8'], iso: ['A.9'] } },
      { controlId: 'fw-on', passed: false, frameworkArticles: { cis: ['3.5.1'] } },
      { controlId: 'audit', passed: false, frameworkArticles: { iso: ['A.12'] } },
    ],
  }

  test('framework mode: one sub-result per (control, article); overrides change the mode', async () => {
    const path = write('ev.json', evidence)
    const out = await runProbe(
      decl({ kind: 'evidence', evidencePath: path, framework: 'cis' }),
      ctx
    )
    expect(out.status).toBe('fail')
    expect(out.failureReason).toBe('controls failing: fw-on')
    expect(out.subResults).toEqual([
      {
        controlId: 'ssh-root',
        status: 'pass',
        framework: 'cis',
        article: '5.2.8',
        effectiveMode: 'enforce',
        overrideReason: null,
      },
      {
        controlId: 'fw-on',
        status: 'fail',
        framework: 'cis',
        article: '3.5.1',
        effectiveMode: 'enforce',
        overrideReason: null,
      },
    ])
    const waived = await runProbe(
      decl({
        kind: 'evidence',
        evidencePath: path,
        framework: 'cis',
        controlOverrides: { 'fw-on': { mode: 'observe', reason: 'ticket 42' } },
      }),
      ctx
    )
    expect(waived.status).toBe('pass')
    expect(waived.subResults?.[1]).toMatchObject({
      controlId: 'fw-on',
      effectiveMode: 'observe',
      overrideReason: 'ticket 42',
    })
  })

  test('controls mode: only the listed controls, each with its mode; disabled ones dropped', async () => {
    const path = write('ev2.json', evidence)
    const out = await runProbe(
      decl({
        kind: 'evidence',
        evidencePath: path,
        controls: { audit: 'enforce', 'fw-on': 'disabled' },
      }),
      ctx
    )
    expect(out).toMatchObject({ status: 'fail', failureReason: 'controls failing: audit' })
    expect(out.subResults).toEqual([
      {
        controlId: 'audit',
        status: 'fail',
        framework: 'iso',
        article: 'A.12',
        effectiveMode: 'enforce',
        overrideReason: null,
      },
    ])
  })

  test('tampered, foreign-signed, other-host and unsigned evidence all fail', async () => {
    const path = write('ev3.json', evidence)
    writeFileSync(
      path,
      JSON.stringify({
        ...evidence,
        controls: [{ controlId: 'fw-on', passed: true, frameworkArticles: { cis: ['3.5.1'] } }],
      })
    )
    expect(
      await runProbe(decl({ kind: 'evidence', evidencePath: path, framework: 'cis' }), ctx)
    ).toMatchObject({
      status: 'fail',
      failureReason: 'evidence signature does not verify with the host key',
    })
    const foreign = write('ev4.json', evidence, seedOf('attacker'))
    expect(
      (await runProbe(decl({ kind: 'evidence', evidencePath: foreign, framework: 'cis' }), ctx))
        .failureReason
    ).toBe('evidence signature does not verify with the host key')
    const other = write('ev5.json', { ...evidence, hostname: 'web-02' })
    expect(
      (await runProbe(decl({ kind: 'evidence', evidencePath: other, framework: 'cis' }), ctx))
        .failureReason
    ).toBe('evidence is for host web-02')
    expect(
      (await runProbe(decl({ kind: 'evidence', evidencePath: join(dir, 'none.json') }), ctx))
        .failureReason
    ).toContain('ENOENT')
    const none = write('ev6.json', evidence)
    expect(
      (await runProbe(decl({ kind: 'evidence', evidencePath: none, framework: 'pci' }), ctx))
        .failureReason
    ).toBe('no evidence control matched this probe')
  })
})

test('unknown kinds fail, unknown modes enforce, long reasons are truncated', async () => {
  expect(await runProbe(decl({ kind: 'smtp' }), ctx)).toMatchObject({
    status: 'fail',
    failureReason: 'unknown probe kind smtp',
  })
  expect(truncateReason('x'.repeat(600))).toBe(`${'x'.repeat(512)}...[truncated]`)
})

describe('ProbeWorker', () => {
  test('declares the topology, then first observation, first failure and results', async () => {
    const config = join(dir, 'health-checks.json')
    writeFileSync(
      config,
      JSON.stringify({
        up: { kind: 'exec', command: ['true'], runOnce: true },
        down: { kind: 'exec', command: ['false'], mode: 'observe', runOnce: true },
        off: { kind: 'exec', command: ['true'], mode: 'disabled' },
      })
    )
    const events: Unsequenced[] = []
    const metrics = new Metrics()
    const worker = new ProbeWorker({
      configPath: config,
      context: ctx,
      emit: (_r, e) => void events.push(e),
      clock: new FakeClock(1_000),
      log: createLogger({ component: 't', sink: () => {} }),
      metrics,
    })
    events.push(...worker.reset('stable@aa'))
    await waitFor('probe results', () =>
      events.filter((e) => e.type === 'LocalProbeResult').length === 2 ? true : undefined
    )
    worker.stop()
    expect(events[0]).toEqual({
      type: 'LocalProbeTopologyDeclared',
      declaredAt: 1_000,
      probes: [
        { probeName: 'down', kind: 'exec', mode: 'observe' },
        { probeName: 'off', kind: 'exec', mode: 'disabled' },
        { probeName: 'up', kind: 'exec', mode: 'enforce' },
      ],
    })
    const byProbe = (name: string) =>
      events.filter((e) => 'probeName' in e && e.probeName === name).map((e) => e.type)
    expect(byProbe('up')).toEqual(['LocalProbeObservedFirst', 'LocalProbeResult'])
    expect(byProbe('down')).toEqual([
      'LocalProbeObservedFirst',
      'LocalProbeFailureFirst',
      'LocalProbeResult',
    ])
    expect(byProbe('off')).toEqual([])
    expect(metrics.value(M.probeStatus, { probe: 'up', mode: 'enforce' })).toBe(1)
    expect(metrics.value(M.probeStatus, { probe: 'down', mode: 'observe' })).toBe(0)
  })

  test('after convergence the probes keep running for the metrics, emitting no more events', async () => {
    const config = join(dir, 'watch.json')
    const flag = join(dir, 'watch.flag')
    writeFileSync(flag, '')
    writeFileSync(
      config,
      JSON.stringify({
        web: { kind: 'exec', command: ['test', '-e', flag], intervalSeconds: 5 },
      })
    )
    const events: Unsequenced[] = []
    const metrics = new Metrics()
    const logs: string[] = []
    const worker = new ProbeWorker({
      configPath: config,
      context: ctx,
      emit: (_r, e) => void events.push(e),
      clock: new FakeClock(1_000),
      log: createLogger({ component: 't', sink: (l) => void logs.push(l) }),
      metrics,
    })
    worker.reset('stable@aa')
    const status = () => metrics.value(M.probeStatus, { probe: 'web', mode: 'enforce' })
    await waitFor('first result', () => (status() === 1 ? true : undefined))
    const reported = events.length
    worker.keepWatching('stable@aa')
    rmSync(flag)
    try {
      await waitFor('the next run', () => (status() === 0 ? true : undefined), 10_000)
    } finally {
      worker.stop()
    }
    expect(events.length).toBe(reported)
    // An enforce probe failing is a warning.
    expect(logs.some((l) => l.startsWith('<4>') && l.includes('"msg":"probe failed"'))).toBe(true)
  }, 15_000)

  test('an invalid declarations file is a failing enforce probe; a missing one is no probes', () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{"x": {"kind": 1}}')
    expect(loadHealthChecks(bad).ok).toBe(false)
    expect(loadHealthChecks(join(dir, 'absent.json'))).toEqual({ ok: true, probes: {} })
    const events: Unsequenced[] = []
    const worker = new ProbeWorker({
      configPath: bad,
      context: ctx,
      emit: (_r, e) => void events.push(e),
      clock: new FakeClock(5),
      log: createLogger({ component: 't', sink: () => {} }),
      metrics: new Metrics(),
    })
    events.push(...worker.reset('stable@aa'))
    expect(events.map((e) => e.type)).toEqual([
      'LocalProbeTopologyDeclared',
      'LocalProbeObservedFirst',
      'LocalProbeFailureFirst',
      'LocalProbeResult',
    ])
    expect(events[3]).toMatchObject({
      probeName: CONFIG_PROBE_NAME,
      mode: 'enforce',
      status: 'fail',
    })
  })
})
