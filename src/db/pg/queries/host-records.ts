/** The host-record queries on PostgreSQL (see `../../queries/host-records.ts`). */
import { and, eq, getTableColumns, inArray, notInArray, or, sql, type SQL } from 'drizzle-orm'
import { UNDERWAY_PHASES, type HostRolloutState } from '../../../core/index.ts'
import type { PgDb } from '../client.ts'
import { hostRolloutRecords, rollouts } from '../../schema-pg.ts'
import { heldRecords, toRow, toStored, type StoredHost } from '../../queries/host-records.ts'
import { replaceFromExcluded } from '../../queries/excluded.ts'
import { wholeRowUpsert } from './upsert.ts'
import type { Write } from './write.ts'

// Every non-key column replaced from the proposed row: an upsert writes the full row.
const REPLACE = replaceFromExcluded(hostRolloutRecords, ['rolloutId', 'hostname'])

/** The host-record queries. */
export function hostRecordQueries(db: PgDb, write: Write) {
  const recordsWhere = async (where: SQL): Promise<StoredHost[]> =>
    (await db.select().from(hostRolloutRecords).where(where)).map(toStored)
  const upsert = wholeRowUpsert<ReturnType<typeof toRow>>(
    hostRolloutRecords,
    ['rolloutId', 'hostname'],
    (row) =>
      db
        .insert(hostRolloutRecords)
        .values(row)
        .onConflictDoUpdate({
          target: [hostRolloutRecords.rolloutId, hostRolloutRecords.hostname],
          set: REPLACE,
        })
  )
  return {
    /** Inserts or replaces the whole record. */
    upsert(state: HostRolloutState, waveIndex: number): void {
      write(upsert(toRow(state, waveIndex)))
    },
    /** One record, or `undefined`. */
    async get(rolloutId: string, hostname: string): Promise<StoredHost | undefined> {
      const [r] = await db
        .select()
        .from(hostRolloutRecords)
        .where(
          and(
            eq(hostRolloutRecords.rolloutId, rolloutId),
            eq(hostRolloutRecords.hostname, hostname)
          )
        )
        .limit(1)
      return r === undefined ? undefined : toStored(r)
    },
    /** The records the reducer keeps in memory (see the SQLite module). */
    async loadLive(): Promise<StoredHost[]> {
      return await recordsWhere(heldRecords(hostRolloutRecords, rollouts, true))
    },
    /** The records `loadLive` leaves out: those of closed rollouts that are not in flight. */
    async loadRetired(): Promise<StoredHost[]> {
      return await recordsWhere(heldRecords(hostRolloutRecords, rollouts, false))
    },
    /** Every record of a rollout. */
    async ofRollout(rolloutId: string): Promise<StoredHost[]> {
      return await recordsWhere(eq(hostRolloutRecords.rolloutId, rolloutId))
    },
    /** Deletes every record of a rollout (retention). */
    deleteOfRollout(rolloutId: string): void {
      write(db.delete(hostRolloutRecords).where(eq(hostRolloutRecords.rolloutId, rolloutId)))
    },
  }
}
