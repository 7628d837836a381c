/**
 * Soak and wave promotion are measured on the control plane's clock, from when the CP saw a
 * host's activation complete: back-dated agent times, an immediate Converged or a heartbeat that
 * merely claims the target do not skip a canary soak. Real CP, real SQLite, real mTLS.
 */
import { describe, expect, test } from 'bun:test'
import { closureOf, iso, labPerTest, startCp, type FleetSpec, type TestCp } from './cp-support.ts'
import { formatSpan } from '../../src/core/index.ts'

const env = labPerTest()

const SOAK_MS = 10 * 60_000

const canary: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
  channels: { stable: { waves: [['h1'], ['h2']], soakMinutes: 10 } },
}

/** Runs a plan pass and waits until it has been applied. */
async function plan(t: TestCp): Promise<void> {
  t.cp.mutator.submit({ type: 'PlanTick' })
  await t.cp.mutator.request({ type: 'TakeDispatch', host: '\u0000settle' })
}

const queued = (t: TestCp, host: string): string[] => [
  ...(t.cp.state.dispatch.get(host)?.keys() ?? []),
]

/** The reason the CP last gave for holding `host`, if any. */
function heldBecause(t: TestCp, host: string): string | undefined {
  for (const [key, seen] of t.cp.state.gateBlocks)
    if (key.endsWith(`\u0000${host}`)) return seen.reason
  return undefined
}

describe('soak on the control plane clock', () => {
  test('back-dated activation times and an immediate Converged do not skip the canary soak', async () => {
    const { rolloutIds } = env.lab.publish(canary)
    const rid = rolloutIds[0]!
    const t = (env.t = await startCp(env.lab))
    const a1 = await t.agent('h1')
    const post = (event: Record<string, unknown>) =>
      a1.send('POST', '/v1/agent/events', { hostname: 'h1', rolloutId: rid, event })
    // The agent claims it completed 20 minutes ago and has soaked since.
    const past = t.clock.now() - 20 * 60_000
    const events = [
      { kind: 'DispatchAck', seq: 1, currentClosureAtDispatch: 'old-h1', receivedAt: iso(past) },
      {
        kind: 'ActivationCompleted',
        seq: 2,
        observedCurrentClosure: closureOf('h1'),
        exitCode: 0,
        completedAt: iso(past + 1000),
      },
      {
        kind: 'Converged',
        seq: 3,
        convergedAt: iso(past + 1000 + SOAK_MS),
        currentClosure: closureOf('h1'),
      },
    ]
    for (const event of events) expect((await post(event)).status).toBe(204)
    expect(t.cp.state.host(rid, 'h1')?.phase).toBe('Converged')
    const seenAt = t.clock.now()
    await plan(t)
    expect(queued(t, 'h2')).toEqual([])
    expect(heldBecause(t, 'h2')).toBe(
      `wave 1 waits: h1 soak ends ${iso(seenAt + SOAK_MS).slice(11, 19)}, in ${formatSpan(SOAK_MS)} (control plane clock)`
    )
    t.clock.advance(SOAK_MS - 1)
    await plan(t)
    expect(queued(t, 'h2')).toEqual([])
    t.clock.advance(1)
    await plan(t)
    expect(queued(t, 'h2')).toEqual([rid])
  })

  test('a heartbeat that claims the target does not skip the soak, nor converge in the future', async () => {
    const { rolloutIds } = env.lab.publish(canary)
    const rid = rolloutIds[0]!
    const t = (env.t = await startCp(env.lab))
    const a1 = await t.agent('h1')
    const r = await a1.send('POST', '/v1/agent/heartbeat', {
      hostname: 'h1',
      at: iso(t.clock.now()),
      current_closure: closureOf('h1'),
    })
    expect(r.status).toBe(200)
    await plan(t)
    const rec = (await t.cp.store.hosts.get(rid, 'h1'))!.state
    expect(rec.phase).toBe('Converged')
    expect(rec.convergedAt).not.toBeNull()
    expect(rec.convergedAt!).toBeLessThanOrEqual(t.clock.now())
    expect(queued(t, 'h2')).toEqual([])
    t.clock.advance(SOAK_MS)
    await plan(t)
    expect(queued(t, 'h2')).toEqual([rid])
  })
})
