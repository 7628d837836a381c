/** The dispatch-queue queries on PostgreSQL (see `../../queries/dispatch.ts`). */
import { and, asc, eq } from 'drizzle-orm'
import type { PgDb } from '../client.ts'
import { dispatchQueue } from '../../schema-pg.ts'
import {
  DISPATCH_REPLACE,
  dispatchRow,
  toDispatch,
  type QueuedDispatch,
} from '../../queries/dispatch.ts'
import type { Write } from './write.ts'

/** The dispatch-queue queries. */
export function dispatchQueries(db: PgDb, write: Write) {
  return {
    /** Inserts or replaces the dispatch of (host, rollout). */
    upsert(d: QueuedDispatch): void {
      write(
        db
          .insert(dispatchQueue)
          .values(dispatchRow(d))
          .onConflictDoUpdate({
            target: [dispatchQueue.hostname, dispatchQueue.rolloutId],
            set: DISPATCH_REPLACE,
          })
      )
    },
    /** Deletes the dispatch of (host, rollout), if queued (taken or withdrawn). */
    delete(hostname: string, rolloutId: string): void {
      write(
        db
          .delete(dispatchQueue)
          .where(and(eq(dispatchQueue.hostname, hostname), eq(dispatchQueue.rolloutId, rolloutId)))
      )
    },
    /** Deletes every queued dispatch of a rollout (halted or superseded). */
    deleteOfRollout(rolloutId: string): void {
      write(db.delete(dispatchQueue).where(eq(dispatchQueue.rolloutId, rolloutId)))
    },
    /** Every queued dispatch, oldest first (loaded at start). */
    async all(): Promise<QueuedDispatch[]> {
      // Ties have no insertion order here (SQLite falls back to its rowid): the key decides.
      const rows = await db
        .select()
        .from(dispatchQueue)
        .orderBy(
          asc(dispatchQueue.enqueuedAt),
          asc(dispatchQueue.hostname),
          asc(dispatchQueue.rolloutId)
        )
      return rows.map(toDispatch)
    },
  }
}
