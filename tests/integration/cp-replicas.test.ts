/**
 * Two control-plane replicas on one real PostgreSQL, in-process, over real mTLS: one leads, the
 * other follows and serves agents through it (heartbeats, events, dispatch long-polls and
 * operator reads); when the leader stops, the follower takes the lead and carries the rollout on
 * from the database. The failover of killed processes is `tests/e2e/replicas.test.ts`.
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { usePostgres } from '../support/postgres.ts'
import {
  activationEvents,
  eventually,
  iso,
  Lab,
  startCp,
  T0,
  twoWaves,
  type TestCp,
} from './cp-support.ts'
import { FakeClock } from '../../src/runtime/clock.ts'
import { createLogger } from '../../src/runtime/log.ts'

const pg = usePostgres()
let lab: Lab
const running: TestCp[] = []
let databases = 0

beforeEach(async () => {
  lab = await Lab.create()
})
afterEach(async () => {
  for (const t of running.splice(0)) await t.stop()
  lab.cleanup()
})

async function replicas(
  clock: FakeClock
): Promise<{ url: string; start(id: string): Promise<TestCp> }> {
  const name = `replicas_${++databases}`
  const url = await pg().createDatabase(name)
  return {
    url,
    async start(id: string) {
      const t = await startCp(lab, {
        clock,
        config: {
          database: { kind: 'postgres', url, passwordFile: pg().passwordFile },
          replicaId: id,
        },
        cp: { log: createLogger({ component: id, level: 'warn' }) },
      })
      running.push(t)
      return t
    },
  }
}

const roleOf = (t: TestCp) => t.cp.replica?.figures().role

async function agentEvents(t: TestCp, host: string, rolloutId: string): Promise<void> {
  const agent = await t.agent(host)
  for (const ev of activationEvents(host)) {
    // As an agent does: a 503 (a replica busy taking the lead) is retried; anything else is final.
    const r = await eventually(async () => {
      const a = await agent.send('POST', '/v1/agent/events', {
        hostname: host,
        rolloutId,
        event: ev,
      })
      return a.status === 503 ? undefined : a
    }, 10_000)
    expect(r.status).toBe(204)
  }
}

test('a follower serves agents through the leader, and leads when the leader stops', async () => {
  lab.publish(twoWaves)
  const clock = new FakeClock(T0 + 60_000)
  const db = await replicas(clock)
  const a = await db.start('cp-a')
  const b = await db.start('cp-b')
  expect(roleOf(a)).toBe('leader')
  expect(roleOf(b)).toBe('follower')

  // The follower is ready with the leader's release, verified from the database.
  const status = await b.operator.send('GET', '/v1/operator/status')
  expect(status.status).toBe(200)
  expect(status.json().ready).toBe(true)
  expect(status.json().replica).toEqual({ id: 'cp-b', role: 'follower', epoch: 1 })
  const rolloutId: string = status.json().release.rollouts[0]

  // h1 polls the follower: the leader's dispatch reaches it, taken by the leader.
  const h1 = await b.agent('h1')
  const d = await h1.send('GET', '/v1/agent/dispatch?wait=10')
  expect(d.status).toBe(200)
  expect(d.json().rollout_id).toBe(rolloutId)
  // Its events go through the follower into the leader's mutator, each applied once.
  await agentEvents(b, 'h1', rolloutId)
  await eventually(() => a.cp.state.host(rolloutId, 'h1')?.phase === 'Converged', 10_000)
  // A duplicate answers 204 without a second row.
  const again = await h1.send('POST', '/v1/agent/events', {
    hostname: 'h1',
    rolloutId,
    event: activationEvents('h1')[0],
  })
  expect(again.status).toBe(204)

  // The follower's view follows the leader's commits.
  await eventually(async () => {
    const hosts = await b.operator.send('GET', `/v1/rollouts/${rolloutId}`)
    return JSON.stringify(hosts.json()).includes('Converged')
  }, 10_000)

  // The leader stops (its lock session ends): the follower leads within seconds.
  await a.stop()
  running.splice(running.indexOf(a), 1)
  await eventually(() => roleOf(b) === 'leader', 10_000)
  expect(b.cp.replica?.figures().epoch).toBe(2)

  // The second wave opens on the new leader: h2 gets its dispatch and converges.
  b.cp.mutator.submit({ type: 'PlanTick' })
  const h2 = await b.agent('h2')
  const d2 = await eventually(async () => {
    const r = await h2.send('GET', '/v1/agent/dispatch?wait=2')
    return r.status === 200 ? r : undefined
  }, 15_000)
  expect(d2.json().rollout_id).toBe(rolloutId)
  await agentEvents(b, 'h2', rolloutId)
  // The last host converged closes the rollout: its record is kept among the retired ones.
  await eventually(() => b.cp.state.record(rolloutId, 'h2')?.state.phase === 'Converged', 10_000)

  // Every agent event is in the log exactly once.
  const sql = new Bun.SQL(pg().connectionString(db.url.slice(db.url.lastIndexOf('/') + 1)))
  try {
    const rows =
      await sql`SELECT host_id AS host, payload FROM event_log WHERE kind = 'agent_event' ORDER BY seq`
    const seqs = new Map<string, number[]>()
    for (const r of rows as { host: string; payload: string }[]) {
      const ev = JSON.parse(r.payload) as { seq: number; synthesized?: boolean }
      if (ev.synthesized === true) continue
      const seq = ev.seq
      seqs.set(r.host, [...(seqs.get(r.host) ?? []), seq])
    }
    expect(seqs.get('h1')).toEqual([1, 2, 3])
    expect(seqs.get('h2')).toEqual([1, 2, 3])
  } finally {
    await sql.close()
  }
}, 90_000)

/** How many inputs of `kind` the replica's own mutator applied (its `/metrics`). */
async function applied(t: TestCp, kind: string): Promise<number> {
  const text = (await t.operator.send('GET', '/metrics')).text
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`nixfleet_cp_reducer_input_duration_seconds_count{input="${kind}"}`))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

test('a follower answers heartbeats without news itself; the leader hears them in a batch', async () => {
  lab.publish(twoWaves)
  const clock = new FakeClock(T0 + 60_000)
  const db = await replicas(clock)
  const a = await db.start('cp-a')
  const b = await db.start('cp-b')
  // h2 is in the second wave: it waits (Pending), short of its target.
  const h2 = await b.agent('h2')
  const closure = `${'b'.repeat(32)}-system`
  const beat = (s: number, current = closure) =>
    h2.send('POST', '/v1/agent/heartbeat', {
      hostname: 'h2',
      current_closure: current,
      at: iso(T0 + s * 1000),
    })

  // The first goes to the leader: it is news.
  expect((await beat(1)).status).toBe(200)
  expect(a.cp.state.heartbeats.get('h2')?.at).toBe(T0 + 1000)
  const sentAlone = await applied(a, 'Heartbeat')
  expect(sentAlone).toBeGreaterThanOrEqual(1)

  // The same news again: answered by the follower, applied by the leader from a batch.
  expect((await beat(2)).status).toBe(200)
  const r3 = await beat(3)
  expect(r3.status).toBe(200)
  // As the leader would answer: h2's record waiting for its wave.
  expect(r3.json().bootstrap_rollouts.map((x: { state: string }) => x.state)).toEqual(['Pending'])
  expect(b.cp.state.heartbeats.get('h2')?.at).toBe(T0 + 3000)
  await eventually(() => a.cp.state.heartbeats.get('h2')?.at === T0 + 3000, 10_000)
  expect(await applied(a, 'HeartbeatBatch')).toBeGreaterThanOrEqual(1)
  expect(await applied(a, 'Heartbeat')).toBe(sentAlone)

  // News (another closure) goes to the leader at once: applied before the answer comes.
  const other = `${'c'.repeat(32)}-system`
  expect((await beat(4, other)).status).toBe(200)
  expect(a.cp.state.heartbeats.get('h2')?.closure).toBe(other)
  expect(await applied(a, 'Heartbeat')).toBe(sentAlone + 1)

  // A batch that reaches the leader after a later heartbeat does not put back what it changed.
  const batches = await applied(a, 'HeartbeatBatch')
  expect((await beat(5, other)).status).toBe(200)
  const third = `${'d'.repeat(32)}-system`
  expect((await beat(6, third)).status).toBe(200)
  await eventually(async () => (await applied(a, 'HeartbeatBatch')) > batches, 10_000)
  expect(a.cp.state.heartbeats.get('h2')).toMatchObject({ closure: third, at: T0 + 6000 })
  // What the follower's refreshes cost is on its /metrics (it refreshed fully at least at start).
  expect((await b.operator.send('GET', '/metrics')).text).toMatch(
    /^nixfleet_cp_follower_refresh_seconds_count\{kind="full"\} [1-9]/m
  )
}, 60_000)

test('a follower refuses what only a leader may do, and starts without a leader', async () => {
  lab.publish(twoWaves)
  const clock = new FakeClock(T0 + 60_000)
  const db = await replicas(clock)
  const a = await db.start('cp-a')
  const b = await db.start('cp-b')
  expect(roleOf(b)).toBe('follower')
  // A plan tick is the leader's own input: a follower never sends it.
  expect(b.cp.replica?.port.submit({ type: 'PlanTick' })).toBe(false)
  const metrics = await b.operator.send('GET', '/metrics')
  expect(metrics.text).toContain('nixfleet_cp_leader 0')
  const leaderMetrics = await a.operator.send('GET', '/metrics')
  expect(leaderMetrics.text).toContain('nixfleet_cp_leader 1')
  expect(leaderMetrics.text).toContain('nixfleet_cp_fence_epoch 1')
}, 60_000)
