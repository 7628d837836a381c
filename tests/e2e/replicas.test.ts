/**
 * End-to-end: two control-plane replicas on one PostgreSQL, real processes throughout. Six
 * agents, half listing [A, B] and half [B, A], so the follower serves agents from the start
 * (their inputs reach the leader through the database). A release of three waves whose
 * closures switch slowly; while the second wave is underway (its dispatch acknowledged in the
 * database) the leader is killed with SIGKILL. The other replica must lead within 10 s, the
 * rollout must complete, the event log must hold every agent event exactly once (per host, seqs
 * 1..n with no gap and no duplicate) and no host may have been activated twice. The killed
 * replica, restarted, comes back as a follower.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import type { Lab } from '../../src/lab/lab.ts'
import type { HostEntry } from '../../src/lab/view.ts'
import { parseLogLine } from '../../src/runtime/log.ts'
import { LabReplicas } from '../support/cp-replicas.ts'
import { freePort } from '../support/fixtures.ts'
import { startPostgres, type TestPostgres } from '../support/postgres.ts'
import * as e2e from './support.ts'

const { entriesOf, rid, until } = e2e

// Two control planes, PostgreSQL and six agents on a loaded 2-core machine.
setDefaultTimeout(300_000)
let lab: Lab | undefined
let replicas: LabReplicas | undefined
let pg: TestPostgres | undefined
// In this order: the replicas stop before the lab's directory (their logs, CA and release
// directory) is removed and before the database they write to goes away.
afterEach(async () => {
  await replicas?.close()
  replicas = undefined
  await lab?.close()
  lab = undefined
  await pg?.stop()
  pg = undefined
})

const urls = (...u: string[]) => u.flatMap((x) => ['--control-plane-url', x])
const LEADER = 'nixfleet_cp_leader'

/** The agent events of a rollout in the database: per host, the agents' seqs in log order. */
async function agentSeqsInDb(
  db: TestPostgres,
  rolloutId: string
): Promise<Map<string, { seq: number; kind: string }[]>> {
  const sql = new Bun.SQL(db.connectionString())
  try {
    const rows: { host_id: string; payload: string }[] = await sql`
      SELECT host_id, payload FROM event_log
      WHERE rollout_id = ${rolloutId} AND kind = 'agent_event'
      ORDER BY seq`
    const out = new Map<string, { seq: number; kind: string }[]>()
    for (const r of rows) {
      const p = JSON.parse(r.payload) as { seq: number; kind: string }
      const list = out.get(r.host_id) ?? []
      list.push({ seq: p.seq, kind: p.kind })
      out.set(r.host_id, list)
    }
    return out
  } finally {
    await sql.close()
  }
}

/** How many inputs replica `origin` queued that a leader has applied (`cp_inputs`). */
async function appliedInputsFrom(db: TestPostgres, origin: string): Promise<number> {
  const sql = new Bun.SQL(db.connectionString())
  try {
    const [row]: { n: number }[] = await sql`
      SELECT count(*)::int AS n FROM cp_inputs WHERE origin = ${origin} AND done_at IS NOT NULL`
    return row?.n ?? 0
  } finally {
    await sql.close()
  }
}

describe('control-plane replicas on PostgreSQL', () => {
  test('the leader killed mid-wave: the follower leads within 10 s, the rollout completes, every event once, no host activated twice; the killed replica returns as a follower', async () => {
    const db = (pg = await startPostgres())
    const hostNames = ['web-0', 'web-1', 'web-2', 'web-3', 'web-4', 'web-5']
    const waveOf = (i: number): number => Math.floor(i / 2)
    const l = (lab = await e2e.makeLab({
      channels: [{ name: 'stable', soakMinutes: [0, 0, 0], onHealthFailure: 'halt' }],
      hosts: hostNames.map((name, i) => ({ name, wave: waveOf(i), channel: 'stable' })),
    }))
    // Slow switches keep the second wave underway long enough to kill the leader inside it.
    const closures = Object.fromEntries(
      hostNames.map((h, i) => [
        h,
        l.closure(h, `r1-${h}`, { kind: 'slow', delaySecs: waveOf(i) === 1 ? 6 : 2 }),
      ])
    )
    const c1 = await l.release(closures)
    const rollout = rid('stable', c1)

    const r = (replicas = new LabReplicas(l, { url: db.url, passwordFile: db.passwordFile }))
    const ports = { a: await freePort(), b: await freePort() }
    // A first, leading before B starts, so B is a follower from its first line.
    await r.start('a', ports.a)
    await until('a leads', async () => (await r.metric('a', LEADER)) === 1, 30_000)
    await r.start('b', ports.b)
    await until('b follows', () => r.records('b').some((x) => x['msg'] === 'following'))
    expect(await r.metric('b', LEADER)).toBe(0)
    expect(await r.status('b')).toMatchObject({ id: 'b', role: 'follower' })
    const before = await r.status('a')
    expect(before).toMatchObject({ id: 'a', role: 'leader' })

    hostNames.forEach((h, i) =>
      l.startAgent(h, i % 2 === 0 ? urls(r.url('a'), r.url('b')) : urls(r.url('b'), r.url('a')))
    )
    const wave1 = hostNames.filter((_, i) => waveOf(i) === 1)
    await until(
      'a dispatch of the second wave acknowledged in the database',
      async () =>
        [...(await agentSeqsInDb(db, rollout))].some(
          ([h, evs]) => wave1.includes(h) && evs.some((e) => e.kind === 'DispatchAck')
        ),
      120_000
    )
    expect(await r.metric('a', LEADER)).toBe(1)
    // The follower served its agents: their inputs reached the leader through the database.
    expect(await appliedInputsFrom(db, 'b')).toBeGreaterThan(0)
    // The second wave's switches (6 s each) have not finished: the kill lands inside the wave.
    expect(wave1.every((h) => l.currentClosure(h) === closures[h])).toBe(false)

    const killedAt = performance.now()
    expect(await r.kill('a')).toBe(137)
    await until('b leads', async () => (await r.metric('b', LEADER)) === 1, 30_000)
    const failoverMs = Math.round(performance.now() - killedAt)
    console.log(`failover: b reported ${LEADER} 1 ${failoverMs} ms after a was killed`)
    expect(failoverMs).toBeLessThan(10_000)
    const after = await r.status('b')
    expect(after).toMatchObject({ id: 'b', role: 'leader' })
    expect(after.epoch).toBeGreaterThan(before.epoch)
    // The log line may reach the file a moment after the metric flipped.
    await until('b logged leading at its epoch', () =>
      r.records('b').some((x) => x['msg'] === 'leading' && x['epoch'] === after.epoch)
    )

    await until(
      'the rollout Terminal on b, every host on its target',
      async () => {
        const lc = await r.api<{ state: string }>('b', `/v1/rollouts/${rollout}/lifecycle`)
        return (
          lc.status === 200 &&
          lc.body.state === 'Terminal' &&
          hostNames.every((h) => l.currentClosure(h) === closures[h])
        )
      },
      150_000
    )
    // Every host converged in the CP's own records, as b reads them back from the database.
    const hosts = await r.api<{ hosts: HostEntry[] }>('b', '/v1/hosts')
    expect(hosts.status).toBe(200)
    const notConverged = hostNames.filter((h) => {
      const e = hosts.body.hosts.find((x) => x.hostname === h)
      if (e?.lastRollout?.id !== rollout) return true
      return e.rolloutState == null ? e.converged !== true : e.rolloutState !== 'Converged'
    })
    expect(notConverged).toEqual([])

    // The agents that listed a first went on through b by themselves.
    for (const h of hostNames.filter((_, i) => i % 2 === 0)) {
      const moves = e2e
        .logOf(l, `agent-${h}`)
        .split('\n')
        .map((line) => parseLogLine(line)?.record)
        .filter((x) => x?.['msg'] === 'control plane switch')
      expect(moves).toContainEqual(expect.objectContaining({ from: r.url('a'), to: r.url('b') }))
    }

    const events = await agentSeqsInDb(db, rollout)
    for (const h of hostNames) {
      // Every event once, in order: nothing lost in the failover, nothing applied twice.
      const seqs = (events.get(h) ?? []).map((e) => e.seq)
      expect(seqs.length).toBeGreaterThan(0)
      expect({ host: h, seqs }).toEqual({ host: h, seqs: seqs.map((_, i) => i + 1) })
      expect(events.get(h)!.map((e) => e.kind)).toContain('ActivationCompleted')
      expect({ host: h, switches: l.switchCount(h, closures[h]!) }).toEqual({
        host: h,
        switches: 1,
      })
      expect(entriesOf(join(l.hosts.get(h)!.dir, 'state', 'dead-letter', rollout))).toEqual([])
    }

    // The killed replica, restarted on its address, finds b holding the lead and follows.
    await r.start('a', ports.a)
    await until('a answers as a follower', async () => (await r.metric('a', LEADER)) === 0)
    await until('a logged following', () => r.records('a').some((x) => x['msg'] === 'following'))
    expect(r.records('a').filter((x) => x['msg'] === 'following').length).toBe(1)
    await until("a reports b's epoch", async () => (await r.status('a')).epoch === after.epoch)
    expect(await r.status('a')).toMatchObject({ id: 'a', role: 'follower' })
    expect(await r.metric('b', LEADER)).toBe(1)
  })
})
