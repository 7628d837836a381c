/**
 * `bun run bench:agent`: the idle footprint of one agent. Starts a real control plane and a real
 * agent (both `dist/nixfleet`, mTLS on 127.0.0.1) with the agent's production cadences (manifest
 * poll 30 s, heartbeat 60 s, long-poll 60 s, tick 5 s), lets it enroll and settle on a host that
 * already runs its target, then samples the agent process for 60 s from /proc.
 * Last line: one JSON object `{"rss_mb":…,"cpu_pct":…, …}`; `rss_mb` is the largest resident
 * set seen during the window, `cpu_pct` the agent's CPU time over the window as a percentage of
 * one core. Targets: RSS under 40 MB, CPU under 0.5 %.
 * Environment: BENCH_SECONDS (default 60) shortens the window for a quick look.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
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
} from '../support/fixtures.ts'
import { nixfleetBin } from '../support/binary.ts'

const WINDOW_SECS = Number(process.env['BENCH_SECONDS'] ?? '60')
// Startup (enrollment, first polls, JIT warm-up) is not "idle"; the window opens after this.
const SETTLE_MS = 5_000
const SAMPLE_MS = 1_000
// Linux reports process CPU in clock ticks; USER_HZ is 100 on every mainstream distribution.
const CLOCK_TICKS_PER_SEC = 100

const bin = await nixfleetBin()
const root = tempDir('nixfleet-bench-agent-')

function cli(args: string[]): string {
  const r = Bun.spawnSync([bin, ...args], { stdout: 'pipe', stderr: 'pipe' })
  if (r.exitCode !== 0) throw new Error(`nixfleet ${args[0]}: ${r.stderr.toString()}`)
  return r.stdout.toString()
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name: utime is field 14, stime field 15 (1-based).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(rest[11]) + Number(rest[12])
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : 0
}

const procs: { kill(sig?: number | NodeJS.Signals): void }[] = []
// An interrupted benchmark must not leave a CP and an agent running.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const p of procs) p.kill('SIGKILL')
    removeDir(root)
    process.exit(130)
  })
}
try {
  cli(['ca', 'init', '--out', join(root, 'ca')])
  cli(['keygen', '--out', join(root, 'ci')])
  cli(['keygen', '--out', join(root, 'org')])
  cli([
    'trust',
    'init',
    '--ci-release-key',
    join(root, 'ci.pub'),
    '--org-root-key',
    join(root, 'org.pub'),
    '--root-ca',
    join(root, 'ca', 'ca.pem'),
    '--out',
    join(root, 'trust.json'),
  ])
  const host = join(root, 'h1')
  mkdirSync(host)
  const key = join(host, 'ssh_host_ed25519_key')
  Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key])
  const pubkey = readFileSync(`${key}.pub`, 'utf8').trim()
  const nonce = JSON.parse(
    cli([
      'mint-token',
      '--hostname',
      'h1',
      '--pubkey',
      pubkey,
      '--org-root-key',
      join(root, 'org.key'),
      '--out',
      join(host, 'token.json'),
    ])
  )
  const sys = fakeSystem(join(host, 'sys'))
  const current = sys.closure('initial')
  writeFileSync(join(root, 'fleet.json'), JSON.stringify(fleetJson({ hosts: { h1: { pubkey } } })))
  writeFileSync(join(root, 'closures.json'), JSON.stringify({ h1: current }))
  writeFileSync(join(root, 'nonces.json'), JSON.stringify({ bootstrapNonces: [nonce] }))
  cli([
    'release',
    '--fleet',
    join(root, 'fleet.json'),
    '--closures',
    join(root, 'closures.json'),
    '--key',
    join(root, 'ci.key'),
    '--ci-commit',
    'ab'.repeat(20),
    '--release-dir',
    join(root, 'rel'),
    '--bootstrap-nonces',
    join(root, 'nonces.json'),
  ])

  const port = await freePort()
  const ca = join(root, 'ca')
  const cp = spawnLogged([
    bin,
    'control-plane',
    '--listen',
    `127.0.0.1:${port}`,
    ...caDirFlags(ca),
    '--trust-file',
    join(root, 'trust.json'),
    '--agent-cn-suffix',
    'fleet.test',
    '--db-path',
    ':memory:',
    '--audit-log',
    join(root, 'audit.log'),
    '--release-dir',
    join(root, 'rel'),
  ])
  procs.push(cp.proc)
  await cp.waitForLog('CP listening', (l) => l.msg === 'listening')
  const agent = spawnLogged([
    bin,
    'agent',
    '--control-plane-url',
    `https://127.0.0.1:${port}`,
    '--machine-id',
    'h1',
    '--trust-file',
    join(root, 'trust.json'),
    '--client-cert',
    join(host, 'agent.crt'),
    '--client-key',
    key,
    '--ssh-host-key-file',
    key,
    '--bootstrap-token-file',
    join(host, 'token.json'),
    '--state-dir',
    join(host, 'state'),
    '--health-checks-config',
    join(host, 'checks.json'),
    ...systemFlags(sys.paths),
  ])
  procs.push(agent.proc)
  await agent.waitForLog('enrollment', (l) => l.msg === 'enrolled')
  await agent.waitForLog('start', (l) => l.msg === 'agent started')
  await Bun.sleep(SETTLE_MS)
  const pid = agent.proc.pid
  process.stderr.write(`agent pid ${pid} idle; sampling for ${WINDOW_SECS} s\n`)
  const t0 = performance.now()
  const ticks0 = cpuTicks(pid)
  let peak = rssKb(pid)
  while (performance.now() - t0 < WINDOW_SECS * 1000) {
    await Bun.sleep(SAMPLE_MS)
    peak = Math.max(peak, rssKb(pid))
  }
  const elapsedSecs = (performance.now() - t0) / 1000
  const cpuSecs = (cpuTicks(pid) - ticks0) / CLOCK_TICKS_PER_SEC
  const final = rssKb(pid)
  if (agent.proc.exitCode !== null)
    throw new Error(`agent exited early:\n${agent.lines.slice(-20).join('\n')}`)
  const warned = agent.lines.filter(
    (l) => l.includes('"level":"warn"') || l.includes('"level":"error"')
  )
  // Expected once: the first boot has no anti-rollback marks and re-anchors on the CP.
  for (const l of warned) process.stderr.write(`agent ${l}\n`)
  const warnings = warned.length
  // The agent re-executes itself with the JIT off unless the environment says otherwise.
  const jit = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('BUN_JSC_useJIT=0')
    ? 'off'
    : 'on'
  const result = {
    rss_mb: Math.round((peak / 1024) * 10) / 10,
    cpu_pct: Math.round((cpuSecs / elapsedSecs) * 100 * 1000) / 1000,
    rss_final_mb: Math.round((final / 1024) * 10) / 10,
    window_secs: Math.round(elapsedSecs),
    warnings,
    jit,
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  for (const p of procs) p.kill('SIGKILL')
  removeDir(root)
}
