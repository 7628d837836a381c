/**
 * The operator's interventions through the command line, on a real fleet (the compiled binary as
 * control plane, one agent process per host, the CLI as separate processes over mTLS): a release
 * whose canary fails its probe is rolled back and halts its rollout. `rollout resume` lifts the
 * halt (exit 0); the Reverted canary still holds wave 0, so `rollout wait --timeout` gives up
 * naming the timeout and a second resume is refused (exit 1) with the control plane's reason,
 * which names the canary and what to do. Once the canary's cause is fixed, `quarantine clear`
 * and `host retry` re-dispatch it, `status --watch --json` prints one status document per line
 * as it converges, `rollout wait` exits 0, and `audit` lists the resume, the clear and the retry
 * with the operator and their reasons.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Lab } from '../../src/lab/lab.ts'
import { nixfleetBin } from '../support/binary.ts'
import { canaryFleet, collect, operatorCli, poll } from '../support/operator-cli.ts'

// A whole fleet of processes on a loaded 2-core machine.
setDefaultTimeout(180_000)

let bin = ''
let lab: Lab
let dir = ''
// The connection comes from the environment: the lab's CA and operator certificate.
const env = (): Record<string, string> => ({
  PATH: process.env['PATH'] ?? '',
  HOME: dir,
  NO_COLOR: '1',
  NIXFLEET_CP_URL: `https://127.0.0.1:${lab.port}`,
  NIXFLEET_CA_CERT: join(lab.layout.ca, 'ca.pem'),
  NIXFLEET_CLIENT_CERT: `${lab.layout.operator}.pem`,
  NIXFLEET_CLIENT_KEY: `${lab.layout.operator}.key`,
})
const { nf, ok, json } = operatorCli(() => bin, env)

type RolloutView = {
  id: string
  state: string
  outcome: { kind: string } | null
  halt: { active: boolean; host: string } | null
  hostStates: Record<string, string>
  gates: string[]
}
type StatusDoc = {
  channels: { name: string; rolloutId: string | null }[]
  hosts: { hostname: string; currentClosure: string | null; rolloutState: string | null }[]
}

let id = ''
let abbrev = ''
let bad = ''
let good = ''

beforeAll(async () => {
  bin = await nixfleetBin()
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-operator-cli-actions-'))
  lab = await canaryFleet(join(dir, 'lab'), bin, ['web-1'], 2)
  await lab.release({
    canary: lab.closure('canary', 'r1-canary'),
    'web-1': lab.closure('web-1', 'r1-web-1'),
  })
  await lab.startControlPlane()
  for (const h of lab.hosts.keys()) lab.startAgent(h)
  await ok(['rollout', 'wait', '--channel', 'stable', '--timeout', '120s'])
})

// Long-running CLI processes a test started: a failed expectation must not leave them running.
const spawned: { kill(signal?: number | NodeJS.Signals): void }[] = []

afterAll(async () => {
  for (const p of spawned) p.kill('SIGKILL')
  await lab?.close()
})

describe('operator interventions on a rollout whose canary fails', () => {
  test('rollout resume lifts the halt (exit 0); with the canary Reverted a second resume is refused naming it (exit 1)', async () => {
    bad = lab.closure('canary', 'r2-canary', { kind: 'probe-fails' })
    good = lab.closure('web-1', 'r2-web-1')
    const commit = await lab.release({ canary: bad, 'web-1': good })
    await lab.refresh()
    id = `stable@${commit}`
    abbrev = `stable@${commit.slice(0, 8)}`
    const halted = await nf(['rollout', 'wait', abbrev, '--timeout', '120s'])
    expect(halted.code).toBe(1)
    expect(halted.stdout).toContain('halted: canary')
    // The rollback finishes after the halt: resume once the canary is Reverted.
    await poll('the canary Reverted', async () => {
      const r = await json<RolloutView>(['rollout', 'show', abbrev])
      return r.hostStates['canary'] === 'Reverted' && r
    })

    const resumed = await nf(['rollout', 'resume', abbrev, '--reason', 'looking into it', '--yes'])
    expect(resumed.stderr).toBe('')
    expect(resumed.code).toBe(0)
    expect(resumed.stdout).toBe(`resume ${id}: done\n`)
    // The halt no longer holds the rollout: no outcome yet, the halt kept as history only.
    const after = await json<RolloutView>(['rollout', 'show', abbrev])
    expect(after.outcome).toBeNull()
    expect(after.halt).toMatchObject({ active: false, host: 'canary' })
    expect((await ok(['rollout', 'show', abbrev])).stdout).toContain(
      '(resolved — no longer holds the rollout)'
    )

    // Resumed, the Reverted canary is all wave 0 has: resume cannot move it, and says what can.
    const again = await nf(['rollout', 'resume', abbrev, '--reason', 'again', '--yes'])
    expect(again.code).toBe(1)
    expect(again.stdout).toBe('')
    expect(again.stderr).toContain(
      `rollout ${id} is not halted but waits on canary Reverted (wave 0)`
    )
    expect(again.stderr).toContain('retry a host')
    expect(again.stderr).toContain('skip it, or cancel the rollout')
    expect(again.stderr.trim().split('\n')).toHaveLength(1)
  })

  test('rollout wait --timeout on a rollout that cannot finish exits 1 naming the timeout', async () => {
    const started = performance.now()
    const wait = await nf(['rollout', 'wait', abbrev, '--timeout', '2s'])
    const elapsed = performance.now() - started
    expect(wait.code).toBe(1)
    expect(wait.stderr).toContain(`rollout wait: ${id} did not finish within 2s`)
    // It waited for the timeout, not for the rollout: nothing moved past the canary meanwhile.
    expect(elapsed).toBeGreaterThanOrEqual(2_000)
    expect(elapsed).toBeLessThan(30_000)
    expect(wait.stdout).toBe('')
    const r = await json<RolloutView>(['rollout', 'show', abbrev])
    expect(r.hostStates).toEqual({ canary: 'Reverted', 'web-1': 'Pending' })
  })

  test('quarantine clear, then host retry re-dispatches the canary; status --watch --json prints it converging; rollout wait exits 0', async () => {
    // The watch starts first, so it sees the whole recovery, one status document per line.
    const watch = Bun.spawn([bin, 'status', '--watch', '--json'], {
      env: env(),
      stdout: 'pipe',
      stderr: 'pipe',
      stdin: 'ignore',
    })
    spawned.push(watch)
    const out = collect(watch.stdout)
    // Whole lines only: a document may arrive in several chunks.
    const docs = (): StatusDoc[] =>
      out
        .text()
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l) as StatusDoc)
    const host = (d: StatusDoc, name: string) => d.hosts.find((h) => h.hostname === name)
    await poll(
      () => `the snapshot from status --watch --json (so far: ${out.text()})`,
      () => docs().length > 0
    )
    const first = docs()[0]!
    expect(first.channels.map((c) => [c.name, c.rolloutId])).toEqual([['stable', id]])
    expect(host(first, 'canary')?.rolloutState).toBe('Reverted')

    lab.heal('canary', bad)
    const q = await json<{ quarantines: { channel: string; closure: string }[] }>([
      'quarantine',
      'list',
    ])
    expect(q.quarantines).toEqual([expect.objectContaining({ channel: 'stable', closure: bad })])
    const early = await nf(['host', 'retry', 'canary', '--reason', 'probe fixed', '--yes'])
    expect(early.code).toBe(1)
    expect(early.stderr).toContain('quarantined')
    expect(
      (
        await ok([
          'quarantine',
          'clear',
          '--channel',
          'stable',
          '--closure',
          bad,
          '--reason',
          'probe fixed upstream',
          '--yes',
        ])
      ).stdout
    ).toBe(`cleared ${bad} on stable\n`)
    const retry = await nf(['host', 'retry', 'canary', '--reason', 'try the fixed probe', '--yes'])
    expect(retry.stderr).toBe('')
    expect(retry.code).toBe(0)
    expect(retry.stdout).toBe('retry canary: done\n')

    // Every line is a whole status document; one shows both hosts on the release.
    const converged = await poll(
      () => `status --watch --json showing both hosts on the release (so far: ${out.text()})`,
      () =>
        docs().find(
          (d) =>
            host(d, 'canary')?.currentClosure === bad && host(d, 'web-1')?.currentClosure === good
        ) ?? false
    )
    expect(converged.channels.map((c) => c.name)).toEqual(['stable'])
    watch.kill('SIGTERM')
    expect(await watch.exited).toBe(0)
    await out.done
    expect(out.text().endsWith('\n')).toBe(true)
    expect(docs().length).toBeGreaterThan(1)

    const wait = await nf(['rollout', 'wait', abbrev, '--timeout', '120s'])
    expect(wait.code).toBe(0)
    expect(wait.stdout).toBe(`${id}: converged\n`)
    // Re-dispatched: the canary switched to the closure a second time, now healthy.
    expect(lab.switchCount('canary', bad)).toBe(2)
    expect(lab.currentClosure('canary')).toBe(bad)
    expect(lab.currentClosure('web-1')).toBe(good)

    type Audit = {
      actions: { action: string; target: string; reason: string; operator: string }[]
    }
    const audit = await json<Audit>(['audit'])
    expect(audit.actions.map((a) => [a.operator, a.action, a.reason])).toEqual([
      ['operator-lab', 'resume', 'looking into it'],
      ['operator-lab', 'clear-quarantine', 'probe fixed upstream'],
      ['operator-lab', 'retry', 'try the fixed probe'],
    ])
    expect(audit.actions[0]!.target).toBe(id)
    expect(audit.actions[2]!.target).toContain('canary')
  })
})
