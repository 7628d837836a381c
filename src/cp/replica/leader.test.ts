// Leadership on a real PostgreSQL: one leader at a time, failover on a crashed lock session, and
// the fence that keeps a deposed leader from writing.
import { expect, test } from 'bun:test'
import type { SQL } from 'bun'
import { waitFor } from '../../../tests/support/fixtures.ts'
import { replicaDatabase, usePostgres } from '../../../tests/support/replica-tables.ts'
import { systemTimers } from '../../runtime/timers.ts'
import { checkFence, FencedOut } from '../../db/pg/fence.ts'
import { Leadership, LEADER_LOCK_KEY } from './leader.ts'

const pg = usePostgres()

const POLL_MS = 250

/** A replica's election, with its own pool (as a separate process would have). */
function replica(url: string, id: string) {
  const sql = new Bun.SQL(url, { max: 3 })
  const led: number[] = []
  const lost: Error[] = []
  let waits = 0
  const leadership = new Leadership({
    sql,
    id,
    pollMs: POLL_MS,
    // Counts the pauses between polls, so a test can wait for polls instead of for time.
    timers: {
      setTimeout: (fn, ms) => {
        if (ms === POLL_MS) waits++
        return systemTimers.setTimeout(fn, ms)
      },
    },
    onLead: (epoch) => led.push(epoch),
    onLost: (e) => lost.push(e),
  })
  return {
    sql,
    leadership,
    led,
    lost,
    get polls() {
      return waits
    },
    async close() {
      await leadership.stop()
      await sql.close()
    },
  }
}

type Replica = ReturnType<typeof replica>

/** Two replicas `a` (started first, so it leads) and `b` on a fresh database. */
async function withPair(fn: (admin: SQL, a: Replica, b: Replica) => Promise<void>): Promise<void> {
  const { url, sql: admin } = await replicaDatabase(pg())
  const a = replica(url, 'a')
  const b = replica(url, 'b')
  try {
    await a.leadership.start()
    await b.leadership.start()
    await fn(admin, a, b)
  } finally {
    await a.close()
    await b.close()
    await admin.close()
  }
}

/** The backend pid holding the leader lock, if any. */
async function lockHolderPid(admin: SQL): Promise<number | undefined> {
  const rows =
    await admin`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = ${LEADER_LOCK_KEY}::bigint::oid AND granted`
  return rows[0]?.pid
}

test('exactly one of two replicas leads, and the follower sees its epoch', async () => {
  await withPair(async (admin, a, b) => {
    expect(a.leadership.role).toBe('leader')
    expect(a.led).toEqual([1])
    expect(a.leadership.epoch).toBe(1)
    expect(a.leadership.id).toBe('a')
    // Several polls later, still one leader.
    await waitFor('b to poll again', () => (b.polls >= 3 ? true : undefined))
    expect(b.leadership.role).toBe('follower')
    expect(b.led).toEqual([])
    expect(b.leadership.epoch).toBe(1)
    expect(() => b.leadership.fenceCheckSql()).toThrow(FencedOut)
    expect(a.leadership.fenceCheckSql().params).toEqual([1])
    const [row] = await admin`SELECT epoch, holder FROM cp_leader`
    expect(row).toEqual({ epoch: '1', holder: 'a' })
  })
})

test('a killed lock session hands the lead to the other replica within two polls, epoch + 1', async () => {
  await withPair(async (admin, a, b) => {
    expect(a.led).toEqual([1])
    const pid = await lockHolderPid(admin)
    expect(pid).toBeNumber()
    // What a crashed leader looks like to PostgreSQL: its session ends, its lock goes.
    const killedAt = performance.now()
    await admin`SELECT pg_terminate_backend(${pid})`
    await waitFor('b to lead', () => (b.led.length > 0 ? true : undefined), 2 * POLL_MS + 1_000)
    expect(performance.now() - killedAt).toBeLessThan(2 * POLL_MS + 250)
    expect(b.led).toEqual([2])
    expect(b.leadership.role).toBe('leader')
    await waitFor('a to notice', () => (a.lost.length > 0 ? true : undefined))
    expect(a.lost).toHaveLength(1)
    expect(a.lost[0]!.name).toBe('LeadershipLost')
    expect(a.leadership.role).toBe('follower')
    expect(() => a.leadership.fenceCheckSql()).toThrow(FencedOut)
    // The deposed leader's fenced write transaction is refused; the new leader's goes through.
    await expect(
      a.sql.begin(async (tx) => {
        await checkFence(tx, 1)
        await tx`UPDATE cp_leader SET holder = 'written by a'`
      })
    ).rejects.toThrow(FencedOut)
    await b.sql.begin(async (tx) => {
      await checkFence(tx, b.leadership.epoch)
      await tx`UPDATE cp_leader SET since = 'written by b'`
    })
    const [row] = await admin`SELECT epoch, holder, since FROM cp_leader`
    expect(row).toEqual({ epoch: '2', holder: 'b', since: 'written by b' })
    // a stays down: it never leads again even though the lock is free once b stops.
    await b.close()
    expect(a.led).toEqual([1])
  })
})

test('stopping the leader releases the lock to the follower', async () => {
  await withPair(async (admin, a, b) => {
    await a.close()
    await waitFor('b to lead', () => (b.led.length > 0 ? true : undefined), 2 * POLL_MS + 1_000)
    expect(b.led).toEqual([2])
    expect(a.lost).toEqual([])
  })
})

test("a new leader's epoch bump waits for the old leader's fenced transaction in flight", async () => {
  await withPair(async (admin, a, b) => {
    await admin`CREATE TABLE writes (by text NOT NULL)`
    const tx = await a.sql.reserve()
    try {
      // a (still leading) is in the middle of a write transaction when its lock session dies.
      await tx`BEGIN`
      await checkFence(tx, 1)
      await tx`INSERT INTO writes VALUES ('a')`
      await admin`SELECT pg_terminate_backend(${await lockHolderPid(admin)})`
      // b gets the lock, and its bump blocks on a's row lock.
      await waitFor('b to wait for the row lock', async () => {
        const rows =
          await admin`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE cp_leader%'`
        return rows.length > 0 ? true : undefined
      })
      expect(b.led).toEqual([])
      // a's transaction started under its epoch, so it commits; b leads only after it.
      await tx`COMMIT`
    } finally {
      await tx.close()
    }
    await waitFor('b to lead', () => (b.led.length > 0 ? true : undefined))
    expect(b.led).toEqual([2])
    expect(await admin`SELECT by FROM writes`).toEqual([{ by: 'a' }])
  })
})

test('start rejects when the replica tables are missing', async () => {
  const name = `bare_${process.pid}`
  await pg().createDatabase(name)
  const sql = new Bun.SQL(pg().connectionString(name), { max: 2 })
  const lost: Error[] = []
  const l = new Leadership({
    sql,
    id: 'x',
    pollMs: POLL_MS,
    onLead: () => {},
    onLost: (e) => lost.push(e),
  })
  try {
    await expect(l.start()).rejects.toThrow(/cp_leader/)
    expect(l.role).toBe('follower')
    expect(lost).toEqual([])
  } finally {
    await l.stop()
    await sql.close()
  }
})
