/**
 * Monitoring as an on-call engineer meets it: the shipped alerting rules pass `promtool check
 * rules` and their unit tests (`promtool test rules`), the control plane's real `/metrics` (from
 * the compiled binary) passes `promtool check metrics` before and after its first verified
 * release and answers 200 while not ready, on the plain-HTTP `--metrics-listen` and over mTLS
 * with a viewer certificate, which is refused every action; the shipped rules and Grafana
 * dashboard name only series the daemons export.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { M } from '../../src/agent/metrics.ts'
import { nixfleetBin } from '../support/binary.ts'
import { spawnLogged, waitFor, type LoggedProcess } from '../support/fixtures.ts'
import { checkMetrics, promtool } from '../support/promtool.ts'
import { Lab } from './cp-support.ts'

const RULES = join(import.meta.dir, '../../contrib/prometheus/nixfleet.rules.yml')
const DASHBOARD = join(import.meta.dir, '../../contrib/grafana/nixfleet.json')
const RULE_TESTS = join(import.meta.dir, '../../contrib/prometheus/tests/nixfleet.rules.test.yml')
const TIMEOUT_MS = 30_000

describe('the shipped alerting rules', () => {
  test('promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES])
    expect(r.output).toContain('SUCCESS: 7 rules found')
    expect(r.code).toBe(0)
  })

  test('promtool test rules: each important alert fires on synthetic series, and only then', () => {
    const r = promtool(['test', 'rules', RULE_TESTS])
    expect(r.output).toContain('SUCCESS')
    expect(r.code).toBe(0)
  })
})

describe('the control plane /metrics', () => {
  let bin = ''
  let lab: Lab
  let cp: LoggedProcess
  let metricsPort = 0
  let apiPort = 0
  let viewer: { cert: string; key: string }

  beforeAll(async () => {
    bin = await nixfleetBin()
    lab = await Lab.create()
    mkdirSync(join(lab.dir, 'cp'))
    const out = join(lab.dir, 'grafana')
    const minted = Bun.spawnSync(
      [
        bin,
        'mint-operator-cert',
        '--ca',
        lab.caDir,
        '--name',
        'grafana',
        '--out',
        out,
        '--role',
        'viewer',
      ],
      { stderr: 'pipe' }
    )
    expect(minted.stderr.toString()).toContain('(CN viewer-grafana)')
    viewer = { cert: readFileSync(`${out}.pem`, 'utf8'), key: readFileSync(`${out}.key`, 'utf8') }
    // No release yet: the CP starts not ready.
    cp = spawnLogged([
      bin,
      ...lab.cliArgs([
        '--prime-timeout-secs',
        '0',
        '--poll-interval-secs',
        '1',
        '--metrics-listen',
        '127.0.0.1:0',
      ]),
    ])
    metricsPort = Number(
      (await cp.waitForLog('metrics listener', (l) => l['msg'] === 'metrics listening'))['port']
    )
    apiPort = Number((await cp.waitForLog('listener', (l) => l['msg'] === 'listening'))['port'])
  }, TIMEOUT_MS)

  afterAll(async () => {
    cp.proc.kill('SIGTERM')
    await cp.exited
    lab.cleanup()
  })

  const scrape = async (): Promise<{ status: number; text: string }> => {
    const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
    return { status: r.status, text: await r.text() }
  }
  const asViewer = (method: string, path: string, body?: unknown) =>
    fetch(`https://127.0.0.1:${apiPort}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      tls: { ca: readFileSync(join(lab.caDir, 'ca.pem'), 'utf8'), ...viewer },
    })

  test(
    'before any verified release: 200 with nixfleet_cp_ready 0, passing promtool check metrics',
    async () => {
      const m = await scrape()
      expect(m.status).toBe(200)
      expect(m.text).toContain('\nnixfleet_cp_ready 0\n')
      expect(m.text).toMatch(/\nnixfleet_cp_build_info\{version="[^"]+"\} 1\n/)
      expect(m.text).toMatch(/\nprocess_resident_memory_bytes \d+\n/)
      expect(checkMetrics(m.text)).toEqual({ code: 0, output: '' })
      // Over mTLS too, with a viewer certificate, though /v1 still answers 503.
      const tls = await asViewer('GET', '/metrics')
      expect(tls.status).toBe(200)
      expect(await tls.text()).toContain('\nnixfleet_cp_ready 0\n')
      expect((await asViewer('GET', '/v1/hosts')).status).toBe(503)
    },
    TIMEOUT_MS
  )

  test(
    'with a release adopted: every alert series, passing promtool check metrics; the viewer reads and cannot act',
    async () => {
      const { rolloutIds } = lab.publish(
        {
          hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
          channels: { stable: { waves: [['h1'], ['h2']] } },
        },
        { signedAt: Date.now() - 60_000 }
      )
      const m = await waitFor('the CP ready', async () => {
        const s = await scrape()
        return s.text.includes('\nnixfleet_cp_ready 1\n') ? s : undefined
      })
      for (const series of [
        `nixfleet_cp_rollout_halted{channel="stable",rollout="${rolloutIds[0]}"} 0`,
        // No agent runs here: a declared host that never enrolled is the API's own problem.
        'nixfleet_cp_host_problem{channel="stable",host="h1",problem="never-enrolled"} 1',
        'nixfleet_cp_quarantined_closures{channel="stable"} 0',
        'nixfleet_cp_artifact_signed_timestamp_seconds{artifact="fleet",channel="stable"}',
        'nixfleet_cp_artifact_fresh_until_timestamp_seconds{artifact="rollout-manifest",channel="stable"}',
        'nixfleet_cp_cert_not_after_timestamp_seconds{cert="server"}',
        'nixfleet_cp_cert_not_after_timestamp_seconds{cert="fleet-ca"}',
        'nixfleet_cp_verify_failures_total{artifact="fleet",kind="bad-signature"} 0',
        'process_cpu_seconds_total',
        'process_open_fds',
        'process_start_time_seconds',
      ])
        expect(m.text).toContain(`\n${series}`)
      expect(checkMetrics(m.text)).toEqual({ code: 0, output: '' })
      // The shipped rules and dashboard read only series the daemons export.
      const families = new Set([
        ...[...m.text.matchAll(/^# TYPE (\S+)/gm)].map((x) => x[1]!),
        ...Object.values(M),
      ])
      for (const file of [RULES, DASHBOARD]) {
        const used = new Set(
          [...readFileSync(file, 'utf8').matchAll(/\b(nixfleet_[a-z_]+|process_[a-z_]+)/g)].map(
            (x) => x[1]!.replace(/_bucket$/, '')
          )
        )
        for (const name of used)
          expect([file, name, families.has(name)]).toEqual([file, name, true])
      }

      expect((await asViewer('GET', '/v1/hosts')).status).toBe(200)
      const who = await asViewer('GET', '/v1/whoami')
      expect(await who.json()).toMatchObject({ role: 'viewer', cn: 'viewer-grafana' })
      const refused = await asViewer('POST', '/v1/operator/refresh', {})
      expect(refused.status).toBe(403)
      expect(await refused.json()).toEqual({
        error: 'viewer certificates are read-only; this action needs an operator certificate',
      })
      // The refusal is in the CP log, at warning priority.
      const line = await cp.waitForLog(
        'the refusal log line',
        (l) => l['msg'] === 'operator request refused' && l['cn'] === 'viewer-grafana'
      )
      expect(line).toMatchObject({ level: 'warn', status: 403, method: 'POST' })
      expect(
        cp.lines.some((l) => l.startsWith('<4>') && l.includes('"operator request refused"'))
      ).toBe(true)
    },
    TIMEOUT_MS
  )
})
