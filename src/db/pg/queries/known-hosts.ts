/** The known-host queries on PostgreSQL (see `../../queries/known-hosts.ts`). */
import type { PgDb } from '../client.ts'
import { hostRecords } from '../../schema-pg.ts'
import { toKnown, toRow, type KnownHost } from '../../queries/known-hosts.ts'
import { wholeRowUpsert } from './upsert.ts'
import type { Write } from './write.ts'

/** The known-host queries. */
export function knownHostQueries(db: PgDb, write: Write) {
  const upsert = wholeRowUpsert<ReturnType<typeof toRow>>(hostRecords, ['hostname'], (row) =>
    db
      .insert(hostRecords)
      .values(row)
      .onConflictDoUpdate({ target: hostRecords.hostname, set: row })
  )
  return {
    /** Every known host. */
    async all(): Promise<KnownHost[]> {
      return (await db.select().from(hostRecords)).map(toKnown)
    },
    /** Inserts or replaces a host's record. */
    upsert(h: KnownHost): void {
      write(upsert(toRow(h)))
    },
  }
}
