/**
 * End-to-end operator actions on a real fleet (compiled binary, one agent process per host):
 * a canary whose probe fails is rolled back and halts its rollout; after a resume the Reverted
 * canary would wedge wave promotion — the operator retries it (once the quarantine is cleared),
 * skips it, or cancels the rollout, and each way the rollout ends. An emergency deny cuts a
 * running agent off within a second: its parked long-poll ends refused and so does its next
 * request. Assertions read the control plane's API, metrics and the hosts' files.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Lab } from '../../src/lab/lab.ts'
import { cpMetric, hostsOf, lifecycleOf, makeLab, planPassAfterNow, rid, until } from './support.ts'

// Each scenario runs a whole fleet of processes on a loaded 2-core machine.
setDefaultTimeout(240_000)

let lab: Lab | undefined
afterEach(async () => {
  await lab?.close()
  lab = undefined
})

type Reply = { status: number; body: Record<string, unknown> }
const post = (l: Lab, path: string, reason: string): Promise<Reply> =>
  l.api<Record<string, unknown>>(path, { method: 'POST', body: { reason } })

/**
 * Releases a generation whose canary probe fails (starting the fleet on the first), waits until
 * the canary is Reverted and the rollout halted, and resumes it.
 */
async function haltOnCanary(l: Lab, gen: string): Promise<{ id: string; bad: string }> {
  const bad = l.closure('canary', `${gen}-canary`, { kind: 'probe-fails' })
  const commit = await l.release({ canary: bad, 'web-1': l.closure('web-1', `${gen}-web-1`) })
  if (gen === 'r1') {
    await l.startControlPlane()
    for (const h of l.hosts.keys()) l.startAgent(h)
  } else await l.refresh()
  const id = rid('stable', commit)
  await until(
    `${gen}: canary Reverted`,
    async () => (await hostsOf(l)).canary?.rolloutState === 'Reverted',
    60_000
  )
  const resumed = await post(l, `/v1/operator/rollouts/${id}/resume`, 'looking into it')
  expect(resumed.status).toBe(200)
  // Resumed, the Reverted canary is all wave 0 has: nothing moves, and resume says what to do.
  await planPassAfterNow(l)
  expect((await hostsOf(l))['web-1']?.rolloutState).toBe('Pending')
  const again = await post(l, `/v1/operator/rollouts/${id}/resume`, 'again')
  expect(again.status).toBe(409)
  expect(String(again.body.error)).toContain('canary Reverted (wave 0)')
  return { id, bad }
}

describe('operator actions on a real fleet', () => {
  test('a halted-then-resumed rollout with a Reverted canary is retried, skipped or cancelled, and never wedges', async () => {
    lab = await makeLab({
      channels: [
        {
          name: 'stable',
          soakMinutes: [0, 0],
          onHealthFailure: 'rollback-and-halt',
          sustainedFailureSecs: 2,
        },
      ],
      hosts: [
        { name: 'canary', channel: 'stable', wave: 0 },
        { name: 'web-1', channel: 'stable', wave: 1 },
      ],
    })
    const l = lab

    // 1. Retry: refused while quarantined; once cleared, the canary activates again and passes.
    const r1 = await haltOnCanary(l, 'r1')
    const early = await post(l, '/v1/operator/hosts/canary/retry', 'probe fixed upstream')
    expect(early.status).toBe(409)
    expect(String(early.body.error)).toContain('quarantined')
    l.heal('canary', r1.bad)
    const cleared = await l.api('/v1/operator/quarantines/clear', {
      method: 'POST',
      body: { channel: 'stable', closure: r1.bad, reason: 'probe fixed upstream' },
    })
    expect(cleared.status).toBe(200)
    expect((await post(l, '/v1/operator/hosts/canary/retry', 'probe fixed upstream')).status).toBe(
      200
    )
    await until('r1 Terminal', async () => (await lifecycleOf(l, r1.id)) === 'Terminal', 60_000)
    expect(l.currentClosure('canary')).toBe(r1.bad)
    expect(l.switchCount('canary', r1.bad)).toBe(2)

    // 2. Skip: the canary stays where it is; web-1 is dispatched and the rollout completes.
    const r2 = await haltOnCanary(l, 'r2')
    expect(
      (await post(l, '/v1/operator/hosts/canary/skip', 'canary hardware retired')).status
    ).toBe(200)
    await until('r2 Terminal', async () => (await lifecycleOf(l, r2.id)) === 'Terminal', 60_000)
    expect(l.switchCount('canary', r2.bad)).toBe(1)
    expect(l.currentClosure('canary')).toBe(r1.bad)

    // 3. Cancel: closed as cancelled, with who and why; web-1 was never dispatched.
    const r3 = await haltOnCanary(l, 'r3')
    expect((await post(l, `/v1/operator/rollouts/${r3.id}/cancel`, 'bad release')).status).toBe(200)
    expect(await lifecycleOf(l, r3.id)).toBe('Cancelled')
    const history = await l.api<{ rollouts: { id: string; outcome: Record<string, unknown> }[] }>(
      '/v1/rollouts?all=1'
    )
    expect(history.body.rollouts.map((r) => [r.id, r.outcome.kind])).toEqual([
      [r3.id, 'cancelled'],
      [r2.id, 'converged'],
      [r1.id, 'converged'],
    ])
    expect(history.body.rollouts[0]!.outcome).toMatchObject({ reason: 'bad release' })
    const audit = await l.api<{ actions: { action: string }[] }>('/v1/operator/audit')
    expect(audit.body.actions.map((a) => a.action)).toEqual([
      'resume',
      'clear-quarantine',
      'retry',
      'resume',
      'skip',
      'resume',
      'cancel',
    ])
  })

  test('an emergency deny cuts a running agent off within a second', async () => {
    lab = await makeLab({
      channels: [{ name: 'stable', soakMinutes: [0], onHealthFailure: 'halt' }],
      hosts: [{ name: 'web-1', channel: 'stable', wave: 0 }],
    })
    const l = lab
    const commit = await l.release({ 'web-1': l.closure('web-1', 'r1-web-1') })
    await l.startControlPlane()
    l.startAgent('web-1')
    await until(
      'web-1 converged',
      async () => (await lifecycleOf(l, rid('stable', commit))) === 'Terminal',
      60_000
    )
    // The agent parks its next long-poll; the deny must end that one, not a later one.
    await until(
      'a parked long-poll',
      async () =>
        (await l.api<{ openLongPolls: number }>('/v1/operator/status')).body.openLongPolls > 0
    )
    const refused =
      'nixfleet_cp_http_requests_total{method="GET",route="/v1/agent/dispatch",status="401"}'
    expect(await cpMetric(l, refused)).toBe(0)
    const started = performance.now()
    const deny = await post(l, '/v1/operator/hosts/web-1/deny', 'laptop stolen')
    expect(deny.status).toBe(200)
    await until('the long-poll refused', async () => (await cpMetric(l, refused)) >= 1, 5_000)
    const elapsed = performance.now() - started
    expect(elapsed).toBeLessThan(1_000)
    expect((await l.api<{ openLongPolls: number }>('/v1/operator/status')).body.openLongPolls).toBe(
      0
    )
    // Its next requests are refused too, and the host view shows why.
    const anyRefused = async (): Promise<number> => {
      const body = (await l.api<string>('/metrics')).body
      return body
        .split('\n')
        .filter(
          (line) =>
            line.startsWith('nixfleet_cp_http_requests_total{') && line.includes('status="401"')
        )
        .reduce((n, line) => n + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
    }
    await until('a later request refused', async () => (await anyRefused()) >= 2, 30_000)
    expect((await hostsOf(l))['web-1']?.denied).toMatchObject({ reason: 'laptop stolen' })
    expect((await post(l, '/v1/operator/hosts/web-1/allow', 'recovered')).status).toBe(200)
    expect((await l.api<{ denials: unknown[] }>('/v1/operator/denials')).body.denials).toEqual([])
  })
})
