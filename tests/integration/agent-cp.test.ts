/**
 * The agent against the real control plane, both as the compiled `dist/nixfleet` binary, over
 * mTLS on 127.0.0.1, with fake NixOS systems made of files and shims (DECISIONS §7). No
 * component of ours is mocked. What the agent must refuse even when its CP serves it:
 *
 * Fleet one (host h1), one CP process after another on the same port:
 *   A. a release signed 2 h ago: the CP (30-day window) adopts and dispatches it; the agent
 *      (1 h window) enrolls with its bootstrap token, then refuses the dispatch as Stale;
 *   B. a fresh release converges (the agent's high-water mark for D);
 *   C. a release signed by a key the CP trusts but the host does not (tampered, from the
 *      host's point of view): refused as BadSignature;
 *   D. a CP restarted from an empty database serving an older release (a replayed release):
 *      refused as Rollback.
 * Host h3: enrollment that waits for the CP, and certificate renewal without a restart.
 * Whole-fleet scenarios (a kill -9 mid-switch, a failing probe rolled back, a deferred switch
 * completed by a reboot, the CP's own refusals) are the end-to-end suite's (tests/e2e).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  caDirFlags,
  fakeSystem,
  fleetJson,
  freePort,
  removeDir,
  spawnLogged,
  systemFlags,
  tempDir,
  waitFor,
  type FakeSystem,
  type FleetSpec,
  type LoggedProcess,
} from '../support/fixtures.ts'
import { nixfleetBin } from '../support/binary.ts'

// Each scenario spawns a CP and an agent and waits on real switches, polls and ticks (about
// 5-10 s here); 120 s leaves room for a slow 2-core CI machine. Passed per test because Bun
// 1.4 ignores `[test] timeout` in bunfig.toml (its default is 5 s).
const SCENARIO_TIMEOUT_MS = 120_000

let bin = ''
let root = ''
const running: LoggedProcess[] = []

function cli(args: string[]): string {
  const r = Bun.spawnSync([bin, ...args], { stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0)
    throw new Error(`nixfleet ${args[0]} failed (${r.exitCode}): ${r.stderr.toString()}`)
  return r.stdout.toString()
}

function track(p: LoggedProcess): LoggedProcess {
  running.push(p)
  return p
}

async function stop(p: LoggedProcess, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<number> {
  p.proc.kill(signal)
  return p.exited
}

type Host = {
  readonly name: string
  readonly dir: string
  readonly sys: FakeSystem
  readonly pubkey: string
  readonly token: string
  readonly nonce: unknown
}

function makeHost(name: string): Host {
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  const key = join(dir, 'ssh_host_ed25519_key')
  const gen = Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key])
  if (gen.exitCode !== 0) throw new Error(gen.stderr.toString())
  const pubkey = readFileSync(`${key}.pub`, 'utf8').trim()
  const token = join(dir, 'token.json')
  const entry = cli([
    'mint-token',
    '--hostname',
    name,
    '--pubkey',
    pubkey,
    '--org-root-key',
    join(root, 'org.key'),
    '--out',
    token,
  ])
  return { name, dir, sys: fakeSystem(join(dir, 'sys')), pubkey, token, nonce: JSON.parse(entry) }
}

/** Signs a release of `hosts` into `releaseDir` (real `nixfleet release`). */
function release(
  releaseDir: string,
  hosts: readonly Host[],
  closures: Readonly<Record<string, string>>,
  opts: { commit: string; signedAtMs: number; key?: string; extra?: Partial<FleetSpec> }
): string {
  const spec: FleetSpec = {
    hosts: Object.fromEntries(hosts.map((h) => [h.name, { pubkey: h.pubkey }])),
    ...opts.extra,
  }
  const tag = `${opts.commit.slice(0, 6)}-${opts.signedAtMs}`
  writeFileSync(join(root, `fleet-${tag}.json`), JSON.stringify(fleetJson(spec)))
  writeFileSync(join(root, `closures-${tag}.json`), JSON.stringify(closures))
  writeFileSync(
    join(root, 'nonces.json'),
    JSON.stringify({ bootstrapNonces: hosts.map((h) => h.nonce) })
  )
  cli([
    'release',
    '--fleet',
    join(root, `fleet-${tag}.json`),
    '--closures',
    join(root, `closures-${tag}.json`),
    '--key',
    opts.key ?? join(root, 'ci.key'),
    '--ci-commit',
    opts.commit,
    '--release-dir',
    releaseDir,
    '--bootstrap-nonces',
    join(root, 'nonces.json'),
    '--now',
    new Date(opts.signedAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  ])
  return `stable@${opts.commit}`
}

async function startCp(
  port: number,
  releaseDir: string,
  trust: string,
  extra: string[] = []
): Promise<LoggedProcess> {
  const ca = join(root, 'ca')
  const cp = track(
    spawnLogged([
      bin,
      'control-plane',
      '--listen',
      `127.0.0.1:${port}`,
      ...caDirFlags(ca),
      '--trust-file',
      trust,
      '--agent-cn-suffix',
      'fleet.test',
      '--db-path',
      ':memory:',
      '--audit-log',
      join(root, 'audit.log'),
      '--release-dir',
      releaseDir,
      '--poll-interval-secs',
      '1',
      '--list-poll-interval-secs',
      '1',
      '--plan-interval-secs',
      '1',
      '--startup-dispatch-hold-secs',
      '0',
      '--redeliver-after-secs',
      '2',
      ...extra,
    ])
  )
  await cp.waitForLog('CP listening', (l) => l.msg === 'listening')
  return cp
}

function startAgent(host: Host, port: number, extra: string[] = []): LoggedProcess {
  const checks = join(host.dir, 'health-checks.json')
  return track(
    spawnLogged([
      bin,
      'agent',
      '--control-plane-url',
      `https://127.0.0.1:${port}`,
      '--machine-id',
      host.name,
      '--trust-file',
      join(root, 'trust.json'),
      '--client-cert',
      join(host.dir, 'agent.crt'),
      // The host key alone: it is the TLS key and signs the certificate request.
      '--ssh-host-key-file',
      join(host.dir, 'ssh_host_ed25519_key'),
      '--bootstrap-token-file',
      host.token,
      '--state-dir',
      join(host.dir, 'state'),
      '--health-checks-config',
      checks,
      ...systemFlags(host.sys.paths),
      '--manifest-poll-interval-secs',
      '1',
      '--heartbeat-interval-secs',
      '1',
      '--dispatch-wait-secs',
      '2',
      '--tick-interval-ms',
      '200',
      '--drain-interval-secs',
      '1',
      '--switch-poll-interval-ms',
      '50',
      '--switch-timeout-secs',
      '20',
      '--enroll-retry-secs',
      '1',
      '--backoff-max-secs',
      '1',
      '--metrics-listen',
      '127.0.0.1:0',
      '--log-level',
      'debug',
      ...extra,
    ])
  )
}

/** A GET on the CP's operator API with the operator certificate. */
async function operator<T>(port: number, path: string): Promise<T> {
  const res = await fetch(`https://127.0.0.1:${port}${path}`, {
    headers: { 'X-Nixfleet-Protocol': '1' },
    tls: {
      ca: readFileSync(join(root, 'ca', 'ca.pem'), 'utf8'),
      cert: readFileSync(join(root, 'op.pem'), 'utf8'),
      key: readFileSync(join(root, 'op.key'), 'utf8'),
    },
  })
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

type RolloutHosts = { hosts: { host: string; state: string }[] }

async function hostState(
  port: number,
  rolloutId: string,
  host: string
): Promise<string | undefined> {
  try {
    const r = await operator<RolloutHosts>(port, `/v1/rollouts/${rolloutId}/hosts`)
    return r.hosts.find((h) => h.host === host)?.state
  } catch {
    return undefined
  }
}

async function agentMetric(agent: LoggedProcess, line: string): Promise<boolean> {
  const l = await agent.waitForLog('metrics listener', (j) => j.msg === 'metrics listening')
  const text = await (await fetch(`http://127.0.0.1:${l.port}/metrics`)).text()
  return text.split('\n').includes(line)
}

const refused = (kind: string) => (l: Record<string, unknown>) =>
  l.msg === 'dispatch refused' && l.kind === kind

beforeAll(async () => {
  bin = await nixfleetBin()
  root = tempDir('nixfleet-agent-cp-')
  cli(['ca', 'init', '--out', join(root, 'ca')])
  cli(['keygen', '--out', join(root, 'ci')])
  cli(['keygen', '--out', join(root, 'org')])
  cli(['keygen', '--out', join(root, 'attacker')])
  cli(['mint-operator-cert', '--ca', join(root, 'ca'), '--name', 'test', '--out', join(root, 'op')])
  const common = ['--org-root-key', join(root, 'org.pub'), '--root-ca', join(root, 'ca', 'ca.pem')]
  cli([
    'trust',
    'init',
    '--ci-release-key',
    join(root, 'ci.pub'),
    ...common,
    '--out',
    join(root, 'trust.json'),
  ])
  // The CP also trusts a second key the hosts do not: what it serves under that key must
  // still be refused by every host (a compromised or misconfigured CP).
  cli([
    'trust',
    'init',
    '--ci-release-key',
    join(root, 'ci.pub'),
    '--previous-ci-release-key',
    join(root, 'attacker.pub'),
    ...common,
    '--out',
    join(root, 'cp-trust.json'),
  ])
}, SCENARIO_TIMEOUT_MS)

afterAll(async () => {
  for (const p of running) if (p.proc.exitCode === null) p.proc.kill('SIGKILL')
  await Promise.allSettled(running.map((p) => p.exited))
  removeDir(root)
})

describe('agent ↔ control plane over mTLS', () => {
  test(
    'enrollment, stale refusal, convergence, tampered and replayed-older refusals',
    async () => {
      const h1 = makeHost('h1')
      const rel = join(root, 'rel1')
      mkdirSync(rel)
      const port = await freePort()
      const now = Date.now()
      const vs = h1.sys.closure('stale')
      const v1 = h1.sys.closure('v1')
      const vt = h1.sys.closure('tampered')
      const vo = h1.sys.closure('older')
      const prior = readlinkSync(h1.sys.paths.currentSystem)
      writeFileSync(
        join(h1.dir, 'health-checks.json'),
        JSON.stringify({ ok: { kind: 'exec', command: ['true'], intervalSeconds: 5 } })
      )

      // A: stale release; enrollment; refusal.
      const ridStale = release(
        rel,
        [h1],
        { h1: vs },
        { commit: 'a0'.repeat(20), signedAtMs: now - 2 * 3600_000 }
      )
      let cp = await startCp(port, rel, join(root, 'cp-trust.json'))
      // The channel's window (one day) lets the CP dispatch it; the agent's flag tightens it to
      // one hour, so the agent refuses the two-hour-old manifest.
      const agent = startAgent(h1, port, ['--manifest-freshness-window-secs', '3600'])
      await agent.waitForLog('enrollment', (l) => l.msg === 'enrolled')
      expect(readFileSync(join(h1.dir, 'agent.crt'), 'utf8')).toContain('BEGIN CERTIFICATE')
      // The daemon re-executed itself, in the same pid, with the JIT off (see src/main.ts).
      expect(readFileSync(`/proc/${agent.proc.pid}/environ`, 'utf8').split('\0')).toContain(
        'BUN_JSC_useJIT=0'
      )
      const stale = await agent.waitForLog('stale refusal', refused('Stale'))
      expect(stale.rolloutId).toBe(ridStale)
      expect(readlinkSync(h1.sys.paths.currentSystem)).toBe(prior)
      expect(
        await agentMetric(agent, 'nixfleet_agent_dispatch_refusals_total{kind="stale"} 1')
      ).toBe(true)

      // B: a fresh release converges (its event log is checked end to end in tests/e2e).
      const rid1 = release(rel, [h1], { h1: v1 }, { commit: 'b1'.repeat(20), signedAtMs: now })
      await agent.waitForLog(
        'convergence',
        (l) => l.msg === 'host transition' && l.to === 'Converged' && l.rolloutId === rid1,
        30_000
      )
      expect(readlinkSync(h1.sys.paths.currentSystem)).toBe(join(h1.sys.storeDir, v1))
      expect(
        await waitFor('CP sees Converged', async () =>
          (await hostState(port, rid1, 'h1')) === 'Converged' ? true : undefined
        )
      ).toBe(true)

      // C: a release signed by a key the host does not trust.
      const ridT = release(
        rel,
        [h1],
        { h1: vt },
        { commit: 'c2'.repeat(20), signedAtMs: now + 1000, key: join(root, 'attacker.key') }
      )
      const bad = await agent.waitForLog(
        'tampered refusal',
        (l) => refused('BadSignature')(l) && l.rolloutId === ridT,
        30_000
      )
      expect(String(bad.reason)).toContain('signature')
      expect(readlinkSync(h1.sys.paths.currentSystem)).toBe(join(h1.sys.storeDir, v1))

      // D: the CP dies and is rebuilt from nothing, serving an older (validly signed) release.
      await stop(cp, 'SIGKILL')
      rmSync(rel, { recursive: true })
      mkdirSync(rel)
      const ridO = release(
        rel,
        [h1],
        { h1: vo },
        { commit: 'd3'.repeat(20), signedAtMs: now - 30 * 60_000 }
      )
      cp = await startCp(port, rel, join(root, 'cp-trust.json'))
      const rb = await agent.waitForLog(
        'rollback refusal',
        (l) => refused('Rollback')(l) && l.rolloutId === ridO,
        30_000
      )
      expect(rb.kind).toBe('Rollback')
      expect(readlinkSync(h1.sys.paths.currentSystem)).toBe(join(h1.sys.storeDir, v1))
      expect(
        agent.lines.some(
          (l) => l.includes('"msg":"signed artifact refused"') && l.includes('"kind":"Rollback"')
        )
      ).toBe(true)

      // SIGTERM: a clean stop well within 5 s.
      const t0 = performance.now()
      expect(await stop(agent)).toBe(0)
      expect(performance.now() - t0).toBeLessThan(5_000)
      await stop(cp, 'SIGKILL')
    },
    SCENARIO_TIMEOUT_MS
  )

  test(
    'enrollment waits for the CP; renewal without restart',
    async () => {
      const h3 = makeHost('h3')
      const rel = join(root, 'rel3')
      mkdirSync(rel)
      const port = await freePort()
      writeFileSync(join(h3.dir, 'health-checks.json'), '{}')
      // The agent starts first: the CP is down, so enrollment retries until it is up.
      const agent = startAgent(h3, port, [
        '--renewal-threshold-fraction',
        '0.74',
        '--renewal-check-interval-secs',
        '0.5',
      ])
      await agent.waitForLog(
        'enrollment retry',
        (l) => l.msg === 'enrollment not possible yet; retrying'
      )
      release(
        rel,
        [h3],
        { h3: h3.sys.closure('next') },
        { commit: '9a'.repeat(20), signedAtMs: Date.now() }
      )
      const cp = await startCp(port, rel, join(root, 'cp-trust.json'), [
        '--agent-cert-validity-secs',
        '60',
      ])
      await agent.waitForLog('enrollment', (l) => l.msg === 'enrolled')
      const enrolled = readFileSync(join(h3.dir, 'agent.crt'), 'utf8')

      // A 60 s certificate is renewed with 74 % of its life left — just past the CP's limit of one
      // renewal per quarter of the lifetime — twice: the second renewal authenticates with the
      // first renewed certificate, so the new identity is live without a restart.
      await waitFor(
        'two renewals',
        () =>
          agent.lines.filter((l) => l.includes('"msg":"certificate renewed"')).length >= 2
            ? true
            : undefined,
        50_000
      )
      expect(agent.lines.some((l) => l.includes('"msg":"certificate renewal failed"'))).toBe(false)
      expect(readFileSync(join(h3.dir, 'agent.crt'), 'utf8')).not.toBe(enrolled)
      expect(await stop(agent)).toBe(0)
      await stop(cp, 'SIGKILL')
    },
    SCENARIO_TIMEOUT_MS
  )
})
