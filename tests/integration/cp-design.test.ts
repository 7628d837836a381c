/**
 * What the runtime design states about the control plane and no other test checks, run
 * in-process against a real SQLite file and real mTLS (see cp-support.ts): per-channel manifest
 * adoption, manifests kept only under the rollout id they claim, the safety-net plan tick, and
 * heartbeat-driven convergence (idempotent, and refused while a halt holds the host).
 */
import { expect, test } from 'bun:test'
import { copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { highWaterKey } from '../../src/core/release/anti-rollback.ts'
import {
  closureOf,
  eventually,
  iso,
  labPerTest,
  startCp,
  T0,
  type Client,
  type FleetSpec,
  type TestCp,
} from './cp-support.ts'

const env = labPerTest()

const threeChannels: FleetSpec = {
  hosts: { s1: { channel: 'stable' }, e1: { channel: 'edge' }, b1: { channel: 'beta' } },
  channels: { stable: {}, edge: {}, beta: {} },
}

/** The rollout id each channel's adopted manifest has. */
function adopted(t: TestCp): Record<string, string | undefined> {
  const m = t.cp.state.release?.manifests ?? {}
  return Object.fromEntries(Object.entries(m).map(([c, a]) => [c, a.rolloutId]))
}

const manifestFile = (dir: string, rolloutId: string) => join(dir, 'rollouts', `${rolloutId}.json`)

test('a manifest that fails for one channel leaves the other channels adopting the release', async () => {
  const first = env.lab.publish(threeChannels, { gen: 1 })
  env.t = await startCp(env.lab)
  const t = env.t
  const ids1 = Object.fromEntries(first.rolloutIds.map((id) => [id.split('@')[0]!, id]))
  expect(adopted(t)).toEqual(ids1)

  const second = env.lab.publish(threeChannels, { gen: 2, signedAt: T0 + 1000 })
  const ids2 = Object.fromEntries(second.rolloutIds.map((id) => [id.split('@')[0]!, id]))
  // The stable manifest of the new release has a broken signature.
  writeFileSync(`${manifestFile(env.lab.releaseDir, ids2['stable']!)}.sig`, new Uint8Array(64))
  expect((await t.operator.send('POST', '/v1/operator/refresh')).status).toBe(200)

  expect(t.cp.state.release?.fleet.ciCommit).toBe(second.ciCommit)
  const now = adopted(t)
  expect(now['edge']).toBe(ids2['edge'])
  expect(now['beta']).toBe(ids2['beta'])
  expect(now['stable']).not.toBe(ids2['stable'])
  expect(
    t.cp.state.status.get(highWaterKey('rollout-manifest', 'stable'))?.lastError
  ).not.toBeNull()
  // Both healthy channels open their new rollouts.
  for (const c of ['edge', 'beta']) expect(t.cp.state.rollouts.get(ids2[c]!)).toBeDefined()
})

test('the CP keeps a manifest only under the {channel}@{channelRef} its own fields claim', async () => {
  const spec: FleetSpec = {
    hosts: { s1: { channel: 'stable' }, e1: { channel: 'edge' } },
    channels: { stable: {}, edge: {} },
  }
  const { rolloutIds } = env.lab.publish(spec)
  const stable = rolloutIds.find((id) => id.startsWith('stable@'))!
  const edge = rolloutIds.find((id) => id.startsWith('edge@'))!
  // Where stable's manifest belongs lies edge's, validly signed: it claims another rollout id.
  const dir = env.lab.releaseDir
  copyFileSync(manifestFile(dir, edge), manifestFile(dir, stable))
  copyFileSync(`${manifestFile(dir, edge)}.sig`, `${manifestFile(dir, stable)}.sig`)
  env.t = await startCp(env.lab)
  const t = env.t

  expect(adopted(t)).toEqual({ edge })
  expect(t.cp.state.status.get(highWaterKey('rollout-manifest', 'stable'))?.lastError?.kind).toBe(
    'RolloutIdMismatch'
  )
  expect(t.cp.state.rollouts.get(stable)).toBeUndefined()
  // Served on demand neither: agents asking for stable's rollout get no manifest of edge.
  const agent = await t.agent('s1')
  expect((await agent.send('GET', `/v1/rollouts/${stable}`)).status).toBe(404)
  const served = await agent.send('GET', `/v1/rollouts/${edge}`)
  expect(served.status).toBe(200)
  expect(served.json().channel).toBe('edge')
})

/** The count of one series of the CP's /metrics (0 while absent). */
async function metric(t: TestCp, series: string): Promise<number> {
  const text = (await t.operator.send('GET', '/metrics')).text
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

test('the safety-net plan tick plans on its cadence with nothing else happening', async () => {
  env.lab.publish(threeChannels)
  env.t = await startCp(env.lab, { cadence: { planIntervalMs: 25 } })
  const t = env.t
  const passes = 'nixfleet_cp_reducer_input_duration_seconds_count{input="PlanTick"}'
  const before = await metric(t, passes)
  // No agent, no poll, no operator action: only the cadence can plan.
  await eventually(async () => (await metric(t, passes)) >= before + 5, 10_000)
})

async function heartbeat(agent: Client, host: string): Promise<void> {
  const r = await agent.send('POST', '/v1/agent/heartbeat', {
    hostname: host,
    at: iso(T0 + 90_000),
    current_closure: closureOf(host),
  })
  expect(r.status).toBe(200)
}

/** Waits until every input queued so far has been applied. */
async function settle(t: TestCp): Promise<void> {
  await t.cp.mutator.request({ type: 'TakeDispatch', host: '\u0000settle' })
}

test('heartbeat-driven convergence is idempotent, and refused while a halt holds the host', async () => {
  const spec: FleetSpec = {
    hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, h3: { channel: 'stable' } },
    channels: { stable: { waves: [['h1'], ['h2', 'h3']], policy: 'halt' } },
  }
  const rid = env.lab.publish(spec).rolloutIds[0]!
  // Plans run only when the test says: the halt must hold h3 before the planner has seen it.
  env.t = await startCp(env.lab, { cadence: { planDebounceMs: 3600_000 } })
  const t = env.t
  const rowsOf = async (host: string) =>
    (await t.cp.store.events.ofKind('agent_event')).filter((e) => e.host === host)
  const phase = async (host: string) => (await t.cp.store.hosts.get(rid, host))?.state.phase

  // h1 already runs its target: its heartbeats converge it once, and only once.
  const a1 = await t.agent('h1')
  await heartbeat(a1, 'h1')
  await settle(t)
  expect(await phase('h1')).toBe('Converged')
  const converged = (await t.cp.store.hosts.get(rid, 'h1'))!.state
  expect((await rowsOf('h1')).map((e) => e.payload['kind'])).toEqual([
    'DispatchAck',
    'ActivationCompleted',
    'Converged',
  ])
  for (let i = 0; i < 3; i++) await heartbeat(a1, 'h1')
  await settle(t)
  expect(await rowsOf('h1')).toHaveLength(3)
  expect((await t.cp.store.hosts.get(rid, 'h1'))!.state).toEqual(converged)

  // Wave 1 is queued; h2 fails its activation and the rollout halts.
  t.cp.mutator.submit({ type: 'PlanTick' })
  await settle(t)
  expect([...(t.cp.state.dispatch.get('h3')?.keys() ?? [])]).toEqual([rid])
  const a2 = await t.agent('h2')
  const send = (ev: Record<string, unknown>) =>
    a2.send('POST', '/v1/agent/events', { hostname: 'h2', rolloutId: rid, event: ev })
  await send({
    kind: 'DispatchAck',
    seq: 1,
    currentClosureAtDispatch: 'old-h2',
    receivedAt: iso(T0 + 91_000),
  })
  expect(
    (
      await send({
        kind: 'ActivationFailed',
        seq: 2,
        exitCode: 1,
        stderrTail: 'boom',
        failedAt: iso(T0 + 92_000),
      })
    ).status
  ).toBe(204)
  expect(t.cp.state.rollouts.get(rid)?.record.halt).not.toBeNull()

  // h3 runs its target too, but the halt holds it: no synthesis, before or after a plan pass.
  const a3 = await t.agent('h3')
  await heartbeat(a3, 'h3')
  await settle(t)
  expect(await phase('h3')).toBe('Pending')
  t.cp.mutator.submit({ type: 'PlanTick' })
  await settle(t)
  await heartbeat(a3, 'h3')
  await settle(t)
  expect(await phase('h3')).toBe('Pending')
  expect(await rowsOf('h3')).toEqual([])
})
