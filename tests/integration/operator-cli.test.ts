/**
 * The operator's command line against a real fleet: the compiled binary as control plane, one
 * agent process per host, and the CLI as separate processes over mTLS with the operator's
 * certificate. The fleet goes through a converged release, a halted one (the canary fails its
 * probe, is rolled back, its closure quarantined) and a fixed one; every command is run in
 * table and `--json` form along the way. Then the connection: config init, precedence of
 * flags over environment over the file, and the errors for a missing setting, a wrong CA, a
 * server name mismatch and a refused connection. Assertions read exit codes, JSON and the
 * names in table lines, never whole-table wording.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Lab } from '../../src/lab/lab.ts'
import { nixfleetBin } from '../support/binary.ts'
import { canaryFleet, collect, operatorCli, poll } from '../support/operator-cli.ts'

// A whole fleet of processes on a loaded 2-core machine.
setDefaultTimeout(180_000)

const HOSTS = ['canary', 'web-1', 'web-2'] as const
let bin = ''
let lab: Lab
let dir = ''
let config = ''
// The connection comes from the config file only, unless a test says otherwise.
const baseEnv = (): Record<string, string> => ({
  PATH: process.env['PATH'] ?? '',
  HOME: dir,
  NIXFLEET_CONFIG: config,
  NO_COLOR: '1',
})

const { nf, ok, json } = operatorCli(() => bin, baseEnv)

const closures = (release: string, broken?: string) =>
  Object.fromEntries(
    HOSTS.map((h) => [
      h,
      lab.closure(h, `${release}-${h}`, h === broken ? { kind: 'probe-fails' } : { kind: 'ok' }),
    ])
  )

let commit1 = ''
let commit2 = ''
let commit3 = ''

beforeAll(async () => {
  bin = await nixfleetBin()
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-operator-cli-'))
  config = join(dir, 'home', 'operator.toml')
  lab = await canaryFleet(join(dir, 'lab'), bin, ['web-1', 'web-2'], 3)
  commit1 = await lab.release(closures('r1'))
  await lab.startControlPlane()
  for (const h of HOSTS) lab.startAgent(h)
})

afterAll(async () => {
  await lab?.close()
})

const l = () => lab.layout
const caPem = () => join(l().ca, 'ca.pem')

describe('operator commands on a fleet through a converged, a halted and a fixed release', () => {
  test('config init writes the connection file 0600; a command without it names config init', async () => {
    const missing = await nf(['status'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('nixfleet config init')
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)

    await ok([
      'config',
      'init',
      '--cp-url',
      `https://127.0.0.1:${lab.port}`,
      '--ca-cert',
      caPem(),
      '--client-cert',
      `${l().operator}.pem`,
      '--client-key',
      `${l().operator}.key`,
    ])
    expect(statSync(config).mode & 0o777).toBe(0o600)
    expect(readFileSync(config, 'utf8')).toContain(`cp_url = "https://127.0.0.1:${lab.port}"`)
    const again = await nf([
      'config',
      'init',
      '--cp-url',
      'https://x',
      '--ca-cert',
      caPem(),
      '--client-cert',
      caPem(),
      '--client-key',
      caPem(),
    ])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('already exists')
  })

  test('release 1: rollout wait --channel exits 0 once converged; status, hosts, rollouts, events read it', async () => {
    const wait = await nf(['rollout', 'wait', '--channel', 'stable', '--timeout', '120s'])
    expect(wait.stderr).toContain(`stable@${commit1}`)
    expect(wait.code).toBe(0)
    expect(wait.stdout).toContain('converged')

    type Status = {
      channels: { name: string }[]
      hosts: { hostname: string; converged: boolean; currentClosure: string }[]
    }
    // A host reports its new closure in its next heartbeat, up to a second after converging.
    const status = await poll('every host reporting its new closure', async () => {
      const s = await json<Status>(['status'])
      return s.hosts.every((h) => h.currentClosure === lab.currentClosure(h.hostname)) && s
    })
    expect(status.channels.map((c) => c.name)).toEqual(['stable'])
    expect(status.hosts.map((h) => h.hostname)).toEqual([...HOSTS])
    for (const h of status.hosts) expect(h.converged).toBe(true)
    const table = (await ok(['status'])).stdout
    for (const h of HOSTS) expect(table).toContain(`✔ ${h}`)
    expect(table).toContain('○ idle')
    // The channel's freshness: when CI must re-sign the release.
    expect(table).toMatch(/re-sign before .*Z \(fresh until .*Z\)/)
    expect(table).not.toContain('problems:')
    expect((await ok(['status', '--channel', 'stable'])).stdout).toContain('✔ canary')
    expect((await nf(['status', '--channel', 'nope'])).code).toBe(2)

    const hosts = await json<{ hosts: { hostname: string; channel: string }[] }>([
      'hosts',
      '--channel',
      'stable',
    ])
    expect(hosts.hosts.map((h) => h.hostname)).toEqual([...HOSTS])
    expect((await json<{ hosts: unknown[] }>(['hosts', '--problem'])).hosts).toEqual([])
    const hostTable = (await ok(['hosts'])).stdout.split('\n')
    expect(hostTable[0]).toMatch(/^HOST\s+CHANNEL\s+STATE/)
    expect(hostTable.filter((x) => x.startsWith('web-'))).toHaveLength(2)

    const abbrev = `stable@${commit1.slice(0, 6)}`
    const shown = await json<{
      id: string
      waves: { hosts: { hostname: string }[] }[]
      hostStates: Record<string, string>
    }>(['rollout', 'show', abbrev])
    expect(shown.id).toBe(`stable@${commit1}`)
    expect(shown.waves.map((w) => w.hosts.map((h) => h.hostname))).toEqual([
      ['canary'],
      ['web-1', 'web-2'],
    ])
    expect(Object.values(shown.hostStates)).toEqual(['Converged', 'Converged', 'Converged'])
    expect((await ok(['rollout', 'show', abbrev])).stdout).toContain('outcome: converged')

    const events = (await ok(['rollout', 'events', abbrev, '--host', 'canary', '--json'])).stdout
      .trim()
      .split('\n')
      .map((x) => JSON.parse(x) as { seq: number; host: string })
    expect(events.length).toBeGreaterThan(0)
    for (const e of events) expect(e.host).toBe('canary')
    const seqs = events.map((e) => e.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect((await ok(['rollout', 'events', abbrev, '--host', 'canary'])).stdout).toContain(
      'agent_event/Converged'
    )
    const agentEvents = (
      await ok(['rollout', 'events', abbrev, '--kind', 'agent_event', '--json'])
    ).stdout
      .trim()
      .split('\n')
      .map((x) => JSON.parse(x) as { kind: string })
    expect(agentEvents.length).toBeGreaterThan(0)
    for (const e of agentEvents) expect(e.kind).toBe('agent_event')
    const lastTwo = (await ok(['rollout', 'events', abbrev, '--last', '2', '--json'])).stdout
      .trim()
      .split('\n')
      .map((x) => (JSON.parse(x) as { seq: number }).seq)
    const everySeq = (await ok(['rollout', 'events', abbrev, '--json'])).stdout
      .trim()
      .split('\n')
      .map((x) => (JSON.parse(x) as { seq: number }).seq)
    expect(lastTwo).toEqual(everySeq.slice(-2))
    const badKind = await nf(['rollout', 'events', abbrev, '--kind', 'Converged'])
    expect(badKind.code).toBe(2)
    expect(badKind.stderr).toContain('kind must be one of')

    type HostDetail = {
      hostname: string
      closureHistory: { closure: string }[]
      events: { kind: string }[]
      lastRollout: { id: string; outcome: string }
    }
    const canary = await json<HostDetail>(['host', 'show', 'canary'])
    expect(canary.closureHistory[0]!.closure).toBe(lab.currentClosure('canary'))
    expect(canary.events.length).toBeGreaterThan(0)
    expect(canary.lastRollout).toEqual({ id: `stable@${commit1}`, outcome: 'converged' })
    const canaryTable = (await ok(['host', 'show', 'canary'])).stdout
    expect(canaryTable).toContain('closure history:')
    expect(canaryTable).toContain(`stable@${commit1} converged`)
    expect(canaryTable).toContain('events (newest first):')
    expect(canaryTable).toContain('probes:')
    const unknown = await nf(['host', 'show', 'nope'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown host nope')
    const near = await nf(['host', 'show', 'web1'])
    expect(near.code).toBe(2)
    expect(near.stderr).toContain('unknown host web1 (did you mean web-1?)')
    // A misspelt filter is an error naming the closest name, not an empty answer.
    for (const argv of [
      ['hosts', '--channel', 'stabel'],
      ['rollout', 'list', '--all', '--channel', 'stabel'],
      ['status', '--channel', 'stabel'],
    ]) {
      const r = await nf(argv)
      expect(r.code).toBe(2)
      expect(r.stderr).toContain("no channel 'stabel' (did you mean stable?)")
    }
    const badHost = await nf(['rollout', 'events', abbrev, '--host', 'canry'])
    expect(badHost.code).toBe(2)
    expect(badHost.stderr).toContain("no host 'canry' (did you mean canary?)")

    const list = await json<{ rollouts: { id: string }[] }>([
      'rollout',
      'list',
      '--all',
      '--channel',
      'stable',
    ])
    expect(list.rollouts.map((r) => r.id)).toEqual([`stable@${commit1}`])
    const listTable = (await ok(['rollout', 'list', '--all'])).stdout.split('\n')
    expect(listTable[0]).toMatch(/^ROLLOUT\s+STATE/)
    expect(listTable[1]).toMatch(/converged$/)
    // Without --all: only rollouts in flight, and this one is done.
    expect((await json<{ rollouts: unknown[] }>(['rollout', 'list'])).rollouts).toEqual([])
  })

  test('a viewer certificate reads the status, and is refused an action', async () => {
    const viewer = join(dir, 'viewer')
    await ok([
      'mint-operator-cert',
      '--ca',
      l().ca,
      '--name',
      'dash',
      '--out',
      viewer,
      '--role',
      'viewer',
    ])
    const as = ['--client-cert', `${viewer}.pem`, '--client-key', `${viewer}.key`]
    const s = await json<{ hosts: unknown[] }>(['status', ...as])
    expect(s.hosts).toHaveLength(3)
    expect((await ok(['status', ...as])).stdout).toContain('✔ canary')
    const refused = await nf(['host', 'deny', 'web-2', '--reason', 'x', '--yes', ...as])
    // A refusal: the action did not happen (exit 1), the CP's sentence first.
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^nixfleet: [^(]*viewer certificates are read-only.*\(POST /)
  })

  test('release 2: the canary fails, rollout wait exits 1 naming the halt; the closure is quarantined', async () => {
    const bad = closures('r2', 'canary')
    commit2 = await lab.release(bad)
    await lab.refresh()
    const id = `stable@${commit2.slice(0, 8)}`
    const wait = await nf(['rollout', 'wait', id, '--timeout', '120s'])
    expect(wait.code).toBe(1)
    expect(wait.stdout).toContain('halted')
    expect(wait.stdout).toContain('canary')

    const halted = await json<{ state: string; halt: unknown; hostStates: Record<string, string> }>(
      ['rollout', 'show', id]
    )
    expect(halted.halt).not.toBeNull()
    expect(halted.hostStates['canary']).toBe('Reverted')
    expect(halted.hostStates['web-1']).toBe('Pending')
    const status = (await ok(['status'])).stdout
    expect(status).toContain('↺ canary')
    expect(status).toContain('HALTED')
    // The gate sentence says what holds the rollout and what the operator can do.
    expect(status).toContain('↳ halted: canary')
    expect(status).toContain('retry or skip canary, or cancel')
    expect(status.match(/↳ .*resume it or release a fix/g)).toHaveLength(1)
    expect((await ok(['rollout', 'show', id])).stdout).toContain('halt: canary')
    // The events table says why: the failing probe's name, and the transitions.
    const canaryEvents = (await ok(['rollout', 'events', id, '--host', 'canary'])).stdout
    expect(canaryEvents.split('\n')[0]).toMatch(/^SEQ\s+AT\s+HOST\s+KIND\s+DETAIL$/)
    expect(canaryEvents).toMatch(/agent_event\/ProbeResult\s+probe \S+: /)
    expect(canaryEvents).toContain('transition Soaking→Failed')
    expect(canaryEvents).toMatch(/agent_event\/Failed\s+failing probes: \S+/)
    const canaryShow = (await ok(['host', 'show', 'canary'])).stdout
    expect(canaryShow).toMatch(/probes:\n\s+PROBE\s+OK/)
    expect(canaryShow).toMatch(/SEQ\s+AT\s+ROLLOUT\s+KIND\s+DETAIL/)

    const q = await json<{ quarantines: { channel: string; closure: string }[] }>([
      'quarantine',
      'list',
    ])
    expect(q.quarantines).toEqual([
      expect.objectContaining({ channel: 'stable', closure: bad['canary'] }),
    ])
    expect((await ok(['quarantine', 'list'])).stdout).toContain(bad['canary']!)
    const list = await json<{ rollouts: { id: string; state: string }[] }>(['rollout', 'list'])
    expect(list.rollouts.map((r) => r.id)).toContain(`stable@${commit2}`)

    // Retrying the canary is refused while its closure is quarantined: exit 1, the CP's reason.
    const retry = await nf(['host', 'retry', 'canary', '--reason', 'try again', '--yes'])
    expect(retry.code).toBe(1)
    expect(retry.stderr).toContain('quarantined')
    const retryJson = await nf(['host', 'retry', 'canary', '--reason', 'again', '--yes', '--json'])
    expect(retryJson.code).toBe(1)
    expect(retryJson.stdout).toBe('')

    const skip = await json<{ hostname: string; action: string; rolloutId: string }>([
      'host',
      'skip',
      'web-2',
      '--rollout',
      id,
      '--reason',
      'web-2 is being rebuilt',
      '--yes',
    ])
    expect(skip).toMatchObject({
      hostname: 'web-2',
      action: 'skip',
      rolloutId: `stable@${commit2}`,
    })
    expect((await ok(['host', 'skip', 'web-1', '--reason', 'not this one', '--yes'])).stdout).toBe(
      'skip web-1: done\n'
    )
    expect((await ok(['rollout', 'show', id])).stdout).toContain('web-2 Pending (skipped)')

    // The halted rollout is cancelled; rollout wait on it exits 1 naming who cancelled it.
    const cancel = await json<{ rolloutId: string; state: string }>([
      'rollout',
      'cancel',
      id,
      '--reason',
      'bad canary build',
      '--yes',
    ])
    expect(cancel.rolloutId).toBe(`stable@${commit2}`)
    const cancelled = await nf(['rollout', 'wait', id, '--timeout', '60s'])
    expect(cancelled.code).toBe(1)
    expect(cancelled.stdout).toContain('cancelled by operator-lab: bad canary build')
    expect((await nf(['rollout', 'cancel', id, '--reason', 'again', '--yes'])).code).toBe(1)

    type History = { rollouts: { id: string; outcome: { kind: string; host?: string } | null }[] }
    const history = await json<History>(['rollout', 'list', '--all'])
    expect(history.rollouts.map((r) => [r.id, r.outcome?.kind])).toEqual([
      [`stable@${commit2}`, 'cancelled'],
      [`stable@${commit1}`, 'converged'],
    ])
    const historyTable = (await ok(['rollout', 'list', '--all', '--channel', 'stable'])).stdout
    expect(historyTable).toContain('cancelled by operator-lab')

    type Audit = { actions: { action: string; target: string; reason: string; operator: string }[] }
    const audit = await json<Audit>(['audit'])
    expect(audit.actions.map((a) => a.action)).toEqual(['skip', 'skip', 'cancel'])
    expect(audit.actions[0]).toMatchObject({
      operator: 'operator-lab',
      target: `stable@${commit2}/web-2`,
      reason: 'web-2 is being rebuilt',
    })
    const auditTable = (await ok(['audit', '--limit', '1'])).stdout.split('\n')
    expect(auditTable[0]).toMatch(/^AT\s+OPERATOR\s+ACTION/)
    expect(auditTable[1]).toContain('bad canary build')
    expect(auditTable[2]).toBe('')
  })

  test('release 3: status --watch prints the changes as the fix rolls out; rollout wait exits 0', async () => {
    const watch = Bun.spawn([bin, 'status', '--watch'], {
      env: baseEnv(),
      stdout: 'pipe',
      stderr: 'pipe',
      stdin: 'ignore',
    })
    const seen = collect(watch.stdout)
    const until = (what: string, check: () => boolean) =>
      poll(() => `watch printing ${what} (so far: ${seen.text()})`, check)
    // A failed expectation must not leave the watcher running after the suite.
    try {
      // The first message is the snapshot: every host once.
      await until('the snapshot', () => HOSTS.every((h) => seen.text().includes(`${h}: `)))
      commit3 = await lab.release(closures('r3'))
      await lab.refresh()
      const wait = await nf(['rollout', 'wait', '--channel', 'stable', '--timeout', '120s'])
      expect(wait.code).toBe(0)
      expect(wait.stderr).toContain(`stable@${commit3}`)
      await until('the new rollout', () =>
        seen.text().includes(`stable: rollout stable@${commit3}`)
      )
      await until('hosts converging', () => /web-1: \w+ → Converged/.test(seen.text()))
    } catch (e) {
      watch.kill('SIGKILL')
      throw e
    }
    watch.kill('SIGTERM')
    expect(await watch.exited).toBe(0)
    await seen.done
    // Not a terminal: change lines only, no redraw escapes.
    expect(seen.text()).not.toContain('\x1b[')

    const r2 = await json<{ outcome: { kind: string } }>(['rollout', 'show', `stable@${commit2}`])
    expect(r2.outcome.kind).toBe('cancelled')
    for (const h of HOSTS) expect(lab.currentClosure(h)).toContain('r3')
  })

  test('rollout events --follow prints the log, then keeps reading until interrupted', async () => {
    const follow = Bun.spawn(
      [bin, 'rollout', 'events', `stable@${commit3}`, '--follow', '--json'],
      {
        env: baseEnv(),
        stdout: 'pipe',
        stderr: 'pipe',
        stdin: 'ignore',
      }
    )
    const reader = follow.stdout.getReader()
    const first = new TextDecoder().decode((await reader.read()).value).split('\n')[0]!
    expect(JSON.parse(first)).toMatchObject({ seq: expect.any(Number), kind: expect.any(String) })
    reader.releaseLock()
    follow.kill('SIGINT')
    expect(await follow.exited).toBe(0)
  })

  test('mutating commands refuse without --reason; quarantine clear with one is recorded', async () => {
    const q = await json<{ quarantines: { closure: string }[] }>(['quarantine', 'list'])
    const closure = q.quarantines[0]!.closure
    for (const args of [
      ['host', 'retry', 'canary'],
      ['host', 'skip', 'canary'],
      ['host', 'deny', 'canary'],
      ['host', 'allow', 'canary'],
      ['rollout', 'resume', `stable@${commit3}`],
      ['rollout', 'cancel', `stable@${commit3}`],
      ['quarantine', 'clear', '--channel', 'stable', '--closure', closure],
    ]) {
      const r = await nf(args)
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('--reason is required')
    }
    await ok([
      'quarantine',
      'clear',
      '--channel',
      'stable',
      '--closure',
      closure,
      '--reason',
      'fixed in r3',
      '--yes',
    ])
    expect((await json<{ quarantines: unknown[] }>(['quarantine', 'list'])).quarantines).toEqual([])
    // Resuming a rollout that is not halted is refused by the control plane: exit 1, its reason.
    const resume = await nf([
      'rollout',
      'resume',
      `stable@${commit3.slice(0, 8)}`,
      '--reason',
      'x',
      '--yes',
    ])
    expect(resume.code).toBe(1)
    expect(resume.stderr).toContain('409')
  })

  test('a denied host is a problem: hosts --problem, status, host show, denials; allow lifts it', async () => {
    const deny = await json<Record<string, unknown>>([
      'host',
      'deny',
      'web-2',
      '--reason',
      'disk stolen',
      '--yes',
    ])
    expect(deny).not.toBeNull()
    type Hosts = { hosts: { hostname: string; problem: { kind: string } | null }[] }
    const problems = await json<Hosts>(['hosts', '--problem'])
    expect(problems.hosts.map((h) => [h.hostname, h.problem?.kind])).toEqual([['web-2', 'denied']])
    const problemTable = (await ok(['hosts', '--problem'])).stdout.split('\n')
    expect(problemTable.filter((x) => x.startsWith('web-'))).toEqual([
      expect.stringContaining('denied'),
    ])
    const status = (await ok(['status'])).stdout
    expect(status).toContain('✔ web-2!')
    expect(status).toMatch(/problems:\n.*\n\s+web-2\s+stable\s+denied/)
    expect((await ok(['host', 'show', 'web-2'])).stdout).toMatch(
      /denied +by operator-lab at .*: disk stolen/
    )
    const denials = await json<{ denials: { kind: string; name: string; reason: string }[] }>([
      'denials',
    ])
    expect(denials.denials).toEqual([
      expect.objectContaining({ kind: 'host', name: 'web-2', reason: 'disk stolen' }),
    ])
    expect((await ok(['denials'])).stdout).toContain('disk stolen')

    expect((await ok(['host', 'allow', 'web-2', '--reason', 'found it', '--yes'])).stdout).toBe(
      'allow web-2: done\n'
    )
    expect((await json<{ denials: unknown[] }>(['denials'])).denials).toEqual([])
    const after = await json<Hosts>(['hosts', '--channel', 'stable'])
    expect(after.hosts.find((h) => h.hostname === 'web-2')?.problem?.kind).not.toBe('denied')
    const audit = await json<{ actions: { action: string }[] }>(['audit', '--limit', '2'])
    expect(audit.actions.map((a) => a.action)).toEqual(['deny', 'allow'])
  })

  test('on a terminal: a mutating command asks first; status --watch redraws in place, in colour', async () => {
    // `script` runs the command on a pseudo-terminal; its stdin answers the prompt.
    const onTty = (command: string, input: string) =>
      Bun.spawnSync(['script', '-qec', command, '/dev/null'], {
        env: { ...baseEnv(), NO_COLOR: '' },
        stdin: new TextEncoder().encode(input),
      })
    const refused = onTty(
      `${bin} quarantine clear --channel stable --closure x --reason 'no really'`,
      'n\n'
    )
    expect(refused.exitCode).toBe(2)
    expect(refused.stdout.toString()).toContain('? [y/N]')
    expect(refused.stdout.toString()).toContain('not confirmed; nothing done')

    // Heartbeats change the status every second: within a few seconds the table is redrawn.
    const watch = onTty(`timeout -s INT 4 ${bin} status --watch`, '')
    const out = watch.stdout.toString()
    expect(out).toContain('✔')
    expect(out).toMatch(/\x1b\[\d+A\x1b\[J/)
    expect(out).toContain('\x1b[32m')
  })

  test('a rollout id that matches nothing exits 2 naming it', async () => {
    const r = await nf(['rollout', 'show', 'stable@ffff'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("no rollout matches 'stable@ffff'")
    expect((await nf(['rollout', 'show', 'nonsense'])).code).toBe(2)
  })
})

describe('the connection', () => {
  test('flags beat the environment, which beats the config file', async () => {
    const refused = 'https://127.0.0.1:1'
    const good = `https://127.0.0.1:${lab.port}`
    const fileOnly = join(dir, 'wrong.toml')
    writeFileSync(
      fileOnly,
      `# wrong URL, right certificates\ncp_url = "${refused}"\nca_cert = "${caPem()}"\nclient_cert = "${l().operator}.pem"\nclient_key = "${l().operator}.key"\n`
    )
    const env = { ...baseEnv(), NIXFLEET_CONFIG: fileOnly }
    const fromFile = await nf(['hosts'], env)
    expect(fromFile.code).toBe(2)
    expect(fromFile.stderr).toContain(`cannot connect to ${refused}`)
    expect(fromFile.stderr).toContain(fileOnly)

    const fromEnv = await nf(['hosts', '--json'], { ...env, NIXFLEET_CP_URL: good })
    expect(fromEnv.code).toBe(0)
    expect(JSON.parse(fromEnv.stdout).hosts).toHaveLength(3)

    const fromFlag = await nf(['hosts', '--cp-url', refused], { ...env, NIXFLEET_CP_URL: good })
    expect(fromFlag.code).toBe(2)
    expect(fromFlag.stderr).toContain('--cp-url')
  })

  test('a config file with an unknown key or a malformed line names the line', async () => {
    const bad = join(dir, 'bad.toml')
    writeFileSync(bad, '# ok\ncp_url = "https://h"\nca_cert = oops\n')
    const r = await nf(['hosts'], { ...baseEnv(), NIXFLEET_CONFIG: bad })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${bad}:3:`)
    writeFileSync(bad, 'cp_url = "https://h"\nserver = "x"\n')
    const u = await nf(['hosts'], { ...baseEnv(), NIXFLEET_CONFIG: bad })
    expect(u.stderr).toContain(`${bad}:2: unknown key server`)
    const gone = await nf(['hosts'], { ...baseEnv(), NIXFLEET_CONFIG: join(dir, 'gone.toml') })
    expect(gone.code).toBe(2)
    expect(gone.stderr).toContain(
      `NIXFLEET_CONFIG names ${join(dir, 'gone.toml')}, which does not exist`
    )
  })

  test('a URL without https, or PEM files that are not, are named before connecting', async () => {
    const noScheme = await nf(['status', '--cp-url', `127.0.0.1:${lab.port}`])
    expect(noScheme.code).toBe(2)
    expect(noScheme.stderr).toContain('(from --cp-url)')
    expect(noScheme.stderr).toContain('https://HOST[:PORT]')
    expect(noScheme.stderr).not.toContain('internal error')
    const http = await nf(['status', '--cp-url', `http://127.0.0.1:${lab.port}`])
    expect(http.code).toBe(2)
    expect(http.stderr).toContain('only speaks https')
    const notPem = join(dir, 'not-a-cert.pem')
    writeFileSync(notPem, 'hello\n')
    const badCert = await nf(['status', '--client-cert', notPem])
    expect(badCert.code).toBe(2)
    expect(badCert.stderr).toContain(`client certificate ${notPem} (from --client-cert)`)
    const badKey = await nf(['status', '--client-key', notPem])
    expect(badKey.stderr).toContain(
      `client key ${notPem} (from --client-key): not a PEM private key`
    )
    const other = join(dir, 'other-op')
    await ok(['mint-operator-cert', '--ca', l().ca, '--name', 'other', '--out', other])
    const mismatch = await nf(['status', '--client-key', `${other}.key`])
    expect(mismatch.code).toBe(2)
    expect(mismatch.stderr).toContain(`is not the key of client certificate ${l().operator}.pem`)
    expect(mismatch.stderr).not.toContain('FailedToOpenSocket')
  })

  test('unknown commands, subcommands and options suggest the closest name', async () => {
    const cmd = await nf(['stauts'])
    expect(cmd.code).toBe(2)
    expect(cmd.stderr).toContain("unknown command 'stauts' (did you mean status?")
    const sub = await nf(['host', 'shwo', 'x'])
    expect(sub.code).toBe(2)
    expect(sub.stderr).toContain(
      "unknown subcommand 'shwo' for 'nixfleet host' (did you mean show?)"
    )
    const opt = await nf(['status', '--wach'])
    expect(opt.code).toBe(2)
    expect(opt.stderr.trim()).toBe(
      "nixfleet: unknown option --wach for 'nixfleet status' (did you mean --watch?)"
    )
    const last = await nf(['rollout', 'events', 'stable@ffff', '--last', '0'])
    expect(last.code).toBe(2)
    expect(last.stderr).toContain('--last must be a positive integer')
  })

  test('a wrong CA names the CA file; a server name mismatch names the host and the certificate names', async () => {
    const other = join(dir, 'other-ca')
    await ok(['ca', 'init', '--out', other])
    const wrongCa = await nf(['status', '--ca-cert', join(other, 'ca.pem')])
    expect(wrongCa.code).toBe(2)
    expect(wrongCa.stderr).toContain(`not issued by the CA in ${join(other, 'ca.pem')}`)
    // A client certificate of another CA: refused, naming the certificate file, never a bare
    // socket error.
    const foreign = ['--client-cert', join(other, 'ca.pem'), '--client-key', join(other, 'ca.key')]
    const refused = await nf(['status', ...foreign])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(join(other, 'ca.pem'))
    expect(refused.stderr).not.toContain('cannot reach')

    // 0.0.0.0 reaches the loopback listener on Linux, but the certificate names localhost and 127.0.0.1.
    const mismatch = await nf(['status', '--cp-url', `https://0.0.0.0:${lab.port}`])
    expect(mismatch.code).toBe(2)
    expect(mismatch.stderr).toContain('does not name 0.0.0.0')
    expect(mismatch.stderr).toContain('127.0.0.1')
    expect(mismatch.stderr.trim().split('\n')).toHaveLength(1)
  })

  test('derive-pubkey prints the key keygen wrote; completion scripts for every shell', async () => {
    const prefix = join(dir, 'k')
    await ok(['keygen', '--out', prefix])
    expect((await ok(['derive-pubkey', `${prefix}.key`])).stdout).toBe(
      readFileSync(`${prefix}.pub`, 'utf8')
    )
    for (const shell of ['bash', 'zsh', 'fish']) {
      const script = (await ok(['completion', shell])).stdout
      for (const word of ['rollout', 'wait', 'quarantine', 'reason', 'cp-url'])
        expect(script).toContain(word)
    }
    const syntax = Bun.spawnSync(['bash', '-n', '-c', (await ok(['completion', 'bash'])).stdout])
    expect(syntax.exitCode).toBe(0)
    expect((await nf(['completion', 'tcsh'])).code).toBe(2)
  })
})
