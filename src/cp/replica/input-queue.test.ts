// The input queue on a real PostgreSQL: replies by NOTIFY and by polling, deadlines, and inputs
// applied exactly once when a leader dies before its commit.
import { expect, test } from 'bun:test'
import type { SQL } from 'bun'
import { waitFor } from '../../../tests/support/fixtures.ts'
import { replicaDatabase, usePostgres } from '../../../tests/support/replica-tables.ts'
import { createLogger } from '../../runtime/log.ts'
import { InputQueue, ReplyTimeout } from './input-queue.ts'
import { checkFence, FencedOut } from '../../db/pg/fence.ts'
import { Leadership } from './leader.ts'

const pg = usePostgres()
const log = createLogger({ component: 'test', level: 'error' })

/** A queue for replica `origin` with its own pool. */
function queueOf(url: string, origin: string, pollMs: number) {
  const sql = new Bun.SQL(url, { max: 3 })
  const queue = new InputQueue({ sql, origin, log, pollMs })
  return {
    sql,
    queue,
    async close() {
      await queue.close()
      await sql.close()
    },
  }
}

type Queue = ReturnType<typeof queueOf>

/** A fresh database with a follower queue and a leader queue on it. */
async function withQueues(
  followerPollMs: number,
  fn: (admin: SQL, follower: Queue, leader: Queue, url: string) => Promise<void>
): Promise<void> {
  const { url, sql: admin } = await replicaDatabase(pg())
  const follower = queueOf(url, 'follower', followerPollMs)
  const leader = queueOf(url, 'leader', 60_000)
  try {
    await fn(admin, follower, leader, url)
  } finally {
    await follower.close()
    await leader.close()
    await admin.close()
  }
}

/** Applies `ids` as a leader of `epoch` would: fence, effects, completion, one transaction. */
async function apply(sql: SQL, queue: InputQueue, epoch: number, ids: readonly number[]) {
  await sql.begin(async (tx) => {
    await checkFence(tx, epoch)
    for (const id of ids) {
      await tx`INSERT INTO effects (input) VALUES (${id})`
      await queue.markDone(tx, id, `reply ${id}`)
    }
  })
}

test('the leader takes inputs in id order and its reply reaches the follower through NOTIFY', async () => {
  // The follower polls once a minute: only the NOTIFY can bring the reply in time.
  await withQueues(60_000, async (admin, follower, leader) => {
    await admin`CREATE TABLE effects (input bigint NOT NULL)`
    let cues = 0
    const stop = await leader.queue.onInput(() => cues++)
    const first = await follower.queue.enqueue('Heartbeat', '{"n":1}')
    const second = await follower.queue.enqueue('HostEvent', '{"n":2}')
    const third = await follower.queue.enqueue('Operator', '{"n":3}')
    const ids = [first, second, third]
    expect(second).toBeGreaterThan(first)
    expect(third).toBeGreaterThan(second)
    await waitFor('the leader to be told', () => (cues >= 3 ? true : undefined))
    await stop()
    const pending = await leader.queue.takePending(10)
    expect(pending.map((p) => [p.id, p.origin, p.kind, p.payload])).toEqual([
      [first, 'follower', 'Heartbeat', '{"n":1}'],
      [second, 'follower', 'HostEvent', '{"n":2}'],
      [third, 'follower', 'Operator', '{"n":3}'],
    ])
    expect(pending[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect((await leader.queue.takePending(2)).map((p) => p.id)).toEqual(ids.slice(0, 2))
    expect((await leader.queue.takePending(10, [first, third])).map((p) => p.id)).toEqual([second])
    const replies = ids.map((id) => follower.queue.awaitReply(id, 5_000))
    expect(follower.queue.waiting).toBe(3)
    await apply(leader.sql, leader.queue, 0, ids)
    expect(await Promise.all(replies)).toEqual(ids.map((id) => `reply ${id}`))
    expect(follower.queue.waiting).toBe(0)
    expect(await leader.queue.takePending(10)).toEqual([])
    // A completion is recorded once: marking it again is refused.
    await expect(apply(leader.sql, leader.queue, 0, [first])).rejects.toThrow(/not pending/)
    expect(await admin`SELECT count(*)::int AS n FROM effects`).toEqual([{ n: 3 }])
  })
})

test('a reply whose NOTIFY is missed arrives through the poll', async () => {
  await withQueues(100, async (admin, follower) => {
    const id = await follower.queue.enqueue('Heartbeat', '{}')
    const reply = follower.queue.awaitReply(id, 5_000)
    // Completed without a notification, as if the LISTEN connection had been down meanwhile.
    await admin`UPDATE cp_inputs SET done_at = 'now', reply = 'polled' WHERE id = ${id}`
    expect(await reply).toBe('polled')
  })
})

test('a reply is still heard after the LISTEN connection was killed', async () => {
  await withQueues(60_000, async (admin, follower, leader) => {
    await admin`CREATE TABLE effects (input bigint NOT NULL)`
    const first = await follower.queue.enqueue('Heartbeat', '{}')
    const [listener] =
      await admin`SELECT pid FROM pg_stat_activity WHERE query = ${'LISTEN "nixfleet_reply"'}`
    expect(listener).toBeDefined()
    const reply = follower.queue.awaitReply(first, 5_000)
    await admin`SELECT pg_terminate_backend(${listener.pid})`
    await apply(leader.sql, leader.queue, 0, [first])
    expect(await reply).toBe(`reply ${first}`)
  })
})

test('a wait with no reply ends with ReplyTimeout at its deadline', async () => {
  await withQueues(50, async (_admin, follower) => {
    const id = await follower.queue.enqueue('Heartbeat', '{}')
    const started = performance.now()
    const err = await follower.queue.awaitReply(id, 300).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ReplyTimeout)
    expect((err as ReplyTimeout).id).toBe(id)
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
    expect(follower.queue.waiting).toBe(0)
  })
})

test('inputs taken by a leader that dies before its commit are applied once, by the next leader', async () => {
  await withQueues(60_000, async (admin, follower, leader, url) => {
    await admin`CREATE TABLE effects (input bigint NOT NULL)`
    const lost: Error[] = []
    const led: string[] = []
    const election = (id: string, sql: SQL) =>
      new Leadership({
        sql,
        id,
        pollMs: 100,
        onLead: () => led.push(id),
        onLost: (e) => lost.push(e),
      })
    const a = election('a', leader.sql)
    const other = queueOf(url, 'b', 60_000)
    const b = election('b', other.sql)
    try {
      await a.start()
      await b.start()
      expect(led).toEqual(['a'])
      const ids = [
        await follower.queue.enqueue('Heartbeat', '{"n":1}'),
        await follower.queue.enqueue('Heartbeat', '{"n":2}'),
      ]
      const replies = ids.map((id) => follower.queue.awaitReply(id, 10_000))
      // a takes both and applies them, but dies before COMMIT: its sessions end, PostgreSQL rolls back.
      const taken = await leader.queue.takePending(10)
      expect(taken.map((t) => t.id)).toEqual(ids)
      const tx = await leader.sql.reserve()
      const [{ pid }] = await tx`SELECT pg_backend_pid() AS pid`
      await tx`BEGIN`
      await checkFence(tx, a.epoch)
      for (const t of taken) {
        await tx`INSERT INTO effects (input) VALUES (${t.id})`
        await leader.queue.markDone(tx, t.id, 'from a')
      }
      await admin`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted`
      await admin`SELECT pg_terminate_backend(${pid})`
      await waitFor('a to notice', () => (lost.length > 0 ? true : undefined))
      await waitFor('b to lead', () => (led.includes('b') ? true : undefined))
      expect(await admin`SELECT count(*)::int AS n FROM effects`).toEqual([{ n: 0 }])
      expect((await other.queue.takePending(10)).map((t) => t.id)).toEqual(ids)
      // A late transaction of a, under its old epoch, is refused.
      await expect(apply(leader.sql, leader.queue, a.epoch, ids)).rejects.toThrow(FencedOut)
      // b applies them, once.
      await apply(other.sql, other.queue, b.epoch, ids)
      expect(await Promise.all(replies)).toEqual(ids.map((id) => `reply ${id}`))
      expect(await other.queue.takePending(10)).toEqual([])
      expect(await admin`SELECT input::int AS input FROM effects ORDER BY input`).toEqual(
        ids.map((input) => ({ input }))
      )
      await tx.close().catch(() => undefined)
    } finally {
      await a.stop()
      await b.stop()
      await other.close()
    }
  })
})
