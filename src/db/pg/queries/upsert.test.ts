/**
 * The prebuilt whole-row upsert against drizzle's own rendering, on a real PostgreSQL: rows the
 * store's `toRow` functions produce take the prebuilt statement, and what it writes (insert, then
 * replace) reads back exactly as what drizzle's statement writes; a row lacking a column goes to
 * drizzle.
 */
import { describe, expect, test } from 'bun:test'
import { newPendingHost } from '../../../core/index.ts'
import { usePostgres } from '../../../../tests/support/postgres.ts'
import { toRow as hostRow } from '../../queries/host-records.ts'
import { toRow as knownRow } from '../../queries/known-hosts.ts'
import { hostRecords, hostRolloutRecords } from '../../schema-pg.ts'
import { openPostgres } from '../client.ts'
import { applyPgMigrations } from '../migrate.ts'
import { wholeRowUpsert } from './upsert.ts'
import type { Renderable } from './write.ts'

const pg = usePostgres()
const T0 = Date.parse('2026-01-01T00:00:00.000Z')

async function run(sql: Bun.SQL, q: Renderable): Promise<void> {
  const { sql: text, params } = q.toSQL()
  await sql.unsafe(text, params)
}

describe('wholeRowUpsert', () => {
  test('writes what drizzle writes, for known hosts and rollout records', async () => {
    const url = await pg().createDatabase(`upsert_${process.pid}`)
    const { sql, db } = await openPostgres({ url, passwordFile: pg().passwordFile })
    await applyPgMigrations(sql)
    const drizzleCalls: string[] = []
    const known = wholeRowUpsert<ReturnType<typeof knownRow>>(hostRecords, ['hostname'], (row) => {
      drizzleCalls.push(row.hostname)
      return db
        .insert(hostRecords)
        .values(row)
        .onConflictDoUpdate({ target: hostRecords.hostname, set: row })
    })
    const k = (hostname: string, lastSeenAt: number) =>
      knownRow({
        hostname,
        channel: 'stable',
        currentClosure: 'c1',
        currentClosureAt: T0,
        targetClosure: null,
        lastSeenAt,
        lastRolloutId: null,
        lastRolloutOutcome: 'converged',
        enrolledAt: T0 - 1,
        cert: { serial: 'ab', notBefore: T0, notAfter: T0 + 1 },
        closureHistory: [{ closure: 'c1', at: T0, rolloutId: null }],
      })
    // The same rows through both: `fast` by the prebuilt statement, `slow` by drizzle's.
    await run(sql, known(k('fast', T0)))
    await run(sql, db.insert(hostRecords).values(k('slow', T0)))
    await run(sql, known(k('fast', T0 + 5)))
    await run(
      sql,
      db
        .insert(hostRecords)
        .values(k('slow', T0 + 5))
        .onConflictDoUpdate({ target: hostRecords.hostname, set: k('slow', T0 + 5) })
    )
    const rows = await sql`SELECT * FROM host_records ORDER BY hostname`
    expect(rows).toHaveLength(2)
    expect({ ...rows[0], hostname: 'x' }).toEqual({ ...rows[1], hostname: 'x' })
    expect(rows[0].last_seen_at).toBe(new Date(T0 + 5).toISOString())
    expect(drizzleCalls).toEqual([])

    // Rollout records: the composite key, integers and JSON.
    const records = wholeRowUpsert<ReturnType<typeof hostRow>>(
      hostRolloutRecords,
      ['rolloutId', 'hostname'],
      (row) => {
        drizzleCalls.push(row.hostname)
        return db.insert(hostRolloutRecords).values(row)
      }
    )
    const pending = newPendingHost({
      rolloutId: 'r1',
      hostname: 'a',
      channel: 'stable',
      targetClosure: 'c2',
      dispatchedAt: T0,
    })
    await run(sql, records(hostRow(pending, 1)))
    await run(sql, records(hostRow({ ...pending, phase: 'Activating', lastEventSeq: 3 }, 2)))
    await run(sql, db.insert(hostRolloutRecords).values(hostRow({ ...pending, hostname: 'b' }, 1)))
    const recs = await sql`SELECT * FROM host_rollout_records ORDER BY hostname`
    expect(recs).toHaveLength(2)
    expect(recs[0].state).toBe('Activating')
    expect(Number(recs[0].wave_index)).toBe(2)
    // A row lacking a column is drizzle's to render.
    const partial = { ...hostRow(pending, 1) } as Record<string, unknown>
    delete partial['waveIndex']
    expect(drizzleCalls).toEqual([])
    records(partial as ReturnType<typeof hostRow>)
    expect(drizzleCalls).toEqual(['a'])
    await sql.close()
  })
})
