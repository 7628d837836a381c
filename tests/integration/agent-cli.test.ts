/**
 * `nixfleet agent` as operators meet it, through the compiled binary: every start-up problem is
 * one line and exit 2 before any work is taken; `--check-config` validates and exits; a running
 * agent serves its metrics and stops on SIGTERM within 5 s.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  fakeSystem,
  httpsServer,
  jsonReply,
  removeDir,
  seedOf,
  spawnLogged,
  tempDir,
  testPki,
  trustFileFor,
  waitFor,
  type TestPki,
} from '../support/fixtures.ts'
import { ed25519PublicKey } from '../../src/crypto/ed25519.ts'
import { encodeOpenSshPrivateKey } from '../../src/crypto/keys.ts'
import { parseLogLine } from '../../src/runtime/log.ts'
import { checkMetrics } from '../support/promtool.ts'
import { sha256Bytes } from '../../src/crypto/sha256.ts'
import { toBase64 } from '../../src/lib/bytes.ts'
import { nixfleetBin } from '../support/binary.ts'

// Spawning the binary several times; see agent-cp.test.ts for why the timeout is explicit.
const TIMEOUT_MS = 60_000

let bin = ''
let dir = ''
let pki: TestPki
const HOST_SEED = seedOf('h1')

beforeAll(async () => {
  bin = await nixfleetBin()
  dir = tempDir('nixfleet-agent-cli-')
  pki = await testPki()
  writeFileSync(join(dir, 'trust.json'), trustFileFor(seedOf('ci'), pki.ca.certPem))
  writeFileSync(join(dir, 'host.key'), encodeOpenSshPrivateKey(HOST_SEED, 'h1'))
  const mine = await pki.clientFor('h1', HOST_SEED)
  writeFileSync(join(dir, 'agent.crt'), mine.certPem)
  const theirs = await pki.clientFor('h2', seedOf('h2'))
  writeFileSync(join(dir, 'other.crt'), theirs.certPem)
  writeFileSync(
    join(dir, 'checks.json'),
    JSON.stringify({ ok: { kind: 'exec', command: ['true'] } })
  )
}, TIMEOUT_MS)
afterAll(() => removeDir(dir))

function base(over: Record<string, string> = {}): string[] {
  const flags: Record<string, string> = {
    '--control-plane-url': 'https://127.0.0.1:1',
    '--machine-id': 'h1',
    '--trust-file': join(dir, 'trust.json'),
    '--client-cert': join(dir, 'agent.crt'),
    '--ssh-host-key-file': join(dir, 'host.key'),
    '--state-dir': join(dir, 'state'),
    '--health-checks-config': join(dir, 'checks.json'),
    ...over,
  }
  return [bin, 'agent', ...Object.entries(flags).flat()]
}

function run(argv: string[]): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(argv, { stdout: 'pipe', stderr: 'pipe' })
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() }
}

/**
 * The failure a run reported, as `nixfleet: <error>\n`: the running agent's is its one JSON log
 * line at priority 3 (after its start line, if it got that far); `--check-config` writes a plain
 * line, returned as it is.
 */
function failureOf(stderr: string): string {
  const errors = stderr.split('\n').filter((l) => l.startsWith('<3>'))
  if (errors.length === 0) return stderr
  expect(errors).toHaveLength(1)
  const line = parseLogLine(errors[0]!)?.record
  expect(line).toMatchObject({ msg: 'fatal error', exitCode: 2 })
  return `nixfleet: ${String(line?.['error'])}\n`
}

describe('start-up checks', () => {
  test.each([
    [
      'a missing trust file',
      { '--trust-file': '/nonexistent/trust.json' },
      'nixfleet: agent: cannot read trust file /nonexistent/trust.json: no such file or directory',
    ],
    [
      'an unreadable host key',
      { '--ssh-host-key-file': join('/nonexistent', 'key') },
      'nixfleet: agent: cannot read host key /nonexistent/key: no such file or directory',
    ],
    [
      'a --client-key that is not the SSH host key',
      { '--client-key': join(dir, 'other.key') },
      'nixfleet: agent: --client-key and --ssh-host-key-file name different files',
    ],
    [
      'a state dir that cannot be created',
      { '--state-dir': join('/dev/null', 'state') },
      'nixfleet: agent: state directory /dev/null/state is not writable: a parent is not a directory',
    ],
    [
      'a certificate of another key',
      { '--client-cert': '@other' },
      'certificate does not belong to the host key',
    ],
    [
      'no certificate and no token',
      { '--client-cert': join('/nonexistent', 'agent.crt') },
      'and no --bootstrap-token-file to enroll with',
    ],
    [
      'a plain-http control plane',
      { '--control-plane-url': 'http://cp:80' },
      'nixfleet: agent: --control-plane-url must use https (mTLS)',
    ],
  ])('%s stops the agent with one line', (_what, over, message) => {
    const o = Object.fromEntries(
      Object.entries(over).map(([k, v]) => [k, v === '@other' ? join(dir, 'other.crt') : v])
    )
    const r = run(base(o))
    expect(r.code).toBe(2)
    expect(r.stderr).toStartWith('<') // a log line (journald reads its priority), not plain text
    const failure = failureOf(r.stderr)
    expect(failure.trim().split('\n')).toHaveLength(1)
    expect(failure).toContain(message)
  })

  test('an invalid trust file names the problem', () => {
    writeFileSync(join(dir, 'bad-trust.json'), '{"schemaVersion": 2, "ciReleaseKey": {}}')
    const r = run(base({ '--trust-file': join(dir, 'bad-trust.json') }))
    expect(r.code).toBe(2)
    expect(failureOf(r.stderr)).toStartWith(
      `nixfleet: agent: trust file ${join(dir, 'bad-trust.json')}: schemaVersion`
    )
  })

  test('--check-config validates without touching the network', () => {
    const ok = run([...base(), '--check-config'])
    expect(ok).toEqual({
      code: 0,
      stdout: 'configuration ok: machine h1, enrolled, 1 probe(s)\n',
      stderr: '',
    })
    writeFileSync(join(dir, 'bad-checks.json'), '{"x": {"kind": 3}}')
    const bad = run([
      ...base({ '--health-checks-config': join(dir, 'bad-checks.json') }),
      '--check-config',
    ])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('bad-checks.json: x.kind')
  })

  test('--control-plane-url may be given once per control plane; each is checked, by name', () => {
    const urls = (...u: string[]) => u.flatMap((x) => ['--control-plane-url', x])
    const two = run([...base(), ...urls('https://cp-b.example:8443'), '--check-config'])
    expect(two).toMatchObject({ code: 0, stderr: '' })
    const bad = run([...base(), ...urls('http://cp-b.example:8080'), '--check-config'])
    expect(bad.code).toBe(2)
    expect(failureOf(bad.stderr)).toBe(
      'nixfleet: agent: --control-plane-url (http://cp-b.example:8080) must use https (mTLS)\n'
    )
    const junk = run([...base(), ...urls('https://cp b:8443'), '--check-config'])
    expect(failureOf(junk.stderr)).toContain(
      '--control-plane-url (https://cp b:8443) must be a URL'
    )
    const twice = run([...base(), ...urls('https://127.0.0.1:1/'), '--check-config'])
    expect(failureOf(twice.stderr)).toBe(
      'nixfleet: agent: --control-plane-url https://127.0.0.1:1 is given twice\n'
    )
  })

  test('--client-key alone names the host key, as does --client-key beside the same file', () => {
    const [exe, cmd, ...flags] = base()
    const at = flags.indexOf('--ssh-host-key-file')
    const alone = [...flags.slice(0, at), '--client-key', ...flags.slice(at + 1)]
    const same = [...flags, '--client-key', join(dir, '.', 'host.key')]
    for (const argv of [alone, same]) {
      expect(run([exe!, cmd!, ...argv, '--check-config'])).toEqual({
        code: 0,
        stdout: 'configuration ok: machine h1, enrolled, 1 probe(s)\n',
        stderr: '',
      })
    }
  })
})

describe('--check-config checks the bootstrap token offline and writes nothing', () => {
  /** A token file for `host` and the key of `seed` (the signature is the CP's to check). */
  function token(name: string, host: string, seed: Uint8Array): string {
    const path = join(dir, name)
    const claims = {
      hostname: host,
      expectedPubkeyFingerprint: toBase64(sha256Bytes(ed25519PublicKey(seed))),
      issuedAt: '2026-01-01T00:00:00Z',
      expiresAt: '2036-01-01T00:00:00Z',
      nonce: '00112233445566778899aabbccddeeff',
    }
    writeFileSync(path, JSON.stringify({ version: 1, claims, signature: 'AAAA' }))
    return path
  }
  const enrolling = (tokenFile: string, state = join(dir, 'state-enroll')) =>
    base({
      '--client-cert': join(dir, 'not-yet.crt'),
      '--bootstrap-token-file': tokenFile,
      '--state-dir': state,
    })

  test('a token for this host and key will enroll; the state directory is not created', () => {
    const state = join(dir, 'not-created', 'state')
    const r = run([...enrolling(token('mine.json', 'h1', HOST_SEED), state), '--check-config'])
    expect(r).toEqual({
      code: 0,
      stdout: 'configuration ok: machine h1, will enroll, 1 probe(s)\n',
      stderr: '',
    })
    expect(existsSync(join(dir, 'not-created'))).toBe(false)
  })

  test.each([
    ['another host', 'h2', HOST_SEED, 'is for host h2, not h1'],
    ['another key', 'h1', seedOf('h2'), 'was minted for another host key'],
  ])('a token for %s is refused, by the check and at start', (what, host, seed, message) => {
    const path = token(`other-${what.replace(' ', '-')}.json`, host, seed)
    for (const argv of [[...enrolling(path), '--check-config'], enrolling(path)]) {
      const r = run(argv)
      expect(r.code).toBe(2)
      const failure = failureOf(r.stderr)
      expect(failure).toStartWith(`nixfleet: agent: bootstrap token ${path} ${message}`)
      expect(failure.trim().split('\n')).toHaveLength(1)
    }
  })
})

test(
  'a running agent serves metrics and stops on SIGTERM within 5 s',
  async () => {
    const sys = fakeSystem(join(dir, 'sys'))
    mkdirSync(join(dir, 'state2'))
    const agent = spawnLogged([
      ...base({ '--state-dir': join(dir, 'state2'), '--current-system': sys.paths.currentSystem }),
      '--metrics-listen',
      '127.0.0.1:0',
      '--backoff-max-secs',
      '1',
    ])
    const listening = await agent.waitForLog(
      'metrics listener',
      (l) => l.msg === 'metrics listening'
    )
    await agent.waitForLog('start', (l) => l.msg === 'agent started')
    await agent.waitForLog('heartbeat failure', (l) => l.msg === 'heartbeat failed')
    const text = await (await fetch(`http://127.0.0.1:${listening.port}/metrics`)).text()
    for (const name of [
      'nixfleet_agent_last_heartbeat_success_timestamp_seconds',
      'nixfleet_agent_outbound_queue_depth 0',
      'nixfleet_agent_dead_letters 0',
      'nixfleet_agent_probe_status',
      `nixfleet_agent_current_closure_info{closure="${sys.closure('initial')}"} 1`,
      'nixfleet_agent_cert_not_after_timestamp_seconds',
    ]) {
      expect(text).toContain(name)
    }
    expect(text).toMatch(/nixfleet_agent_heartbeat_failures_total [1-9]/)
    for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total'])
      expect(text).toContain(`\n${name} `)
    // The names and types follow Prometheus' conventions.
    expect(checkMetrics(text)).toEqual({ code: 0, output: '' })
    const t0 = performance.now()
    agent.proc.kill('SIGTERM')
    expect(await agent.exited).toBe(0)
    expect(performance.now() - t0).toBeLessThan(5_000)
    expect(agent.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true)
    for (const l of agent.lines) expect(parseLogLine(l)).toBeDefined() // JSON lines only
  },
  TIMEOUT_MS
)

test(
  'the boot heartbeat (no rollout) comes first and is answered before any worker runs; the first manifest poll is immediate',
  async () => {
    let bootAnswered = false
    const seen: { what: string; afterBoot: boolean }[] = []
    const cp = await httpsServer(pki, async (req) => {
      if (req.path === '/v1/agent/heartbeat') {
        const body = JSON.parse(req.body) as { rollout_id: string | null }
        seen.push({ what: `heartbeat ${body.rollout_id}`, afterBoot: bootAnswered })
        // A slow CP: a worker started before the handshake ended would show up meanwhile.
        if (!bootAnswered) await Bun.sleep(1_000)
        bootAnswered = true
        return jsonReply({ received_at: '2026-01-01T00:00:00Z' })
      }
      seen.push({ what: `${req.method} ${req.path.split('?')[0]}`, afterBoot: bootAnswered })
      // Long polls are held (as the CP does) so the dispatch worker does not spin.
      if (req.path.startsWith('/v1/agent/dispatch')) return new Promise(() => {})
      return jsonReply({ error: 'no verified fleet yet' }, 503)
    })
    const sys = fakeSystem(join(dir, 'sys-boot'))
    mkdirSync(join(dir, 'state-boot'))
    const agent = spawnLogged([
      ...base({
        '--control-plane-url': cp.url,
        '--state-dir': join(dir, 'state-boot'),
        '--current-system': sys.paths.currentSystem,
      }),
      // Cadences far beyond the test: what happens comes from start-up alone.
      '--manifest-poll-interval-secs',
      '3600',
      '--heartbeat-interval-secs',
      '3600',
      '--drain-interval-secs',
      '3600',
    ])
    try {
      await agent.waitForLog('start', (l) => l.msg === 'agent started')
      await waitFor('the first manifest poll', () =>
        seen.some((s) => s.what === 'GET /v1/fleet.resolved') ? true : undefined
      )
      expect(seen[0]).toEqual({ what: 'heartbeat null', afterBoot: false })
      expect(seen.slice(1).filter((s) => !s.afterBoot)).toEqual([])
    } finally {
      agent.proc.kill('SIGTERM')
      await agent.exited
      cp.stop()
    }
  },
  TIMEOUT_MS
)
