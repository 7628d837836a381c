/** The rollout queries on PostgreSQL (see `../../queries/rollouts.ts`). */
import { desc, eq } from 'drizzle-orm'
import type { RolloutRecord } from '../../../core/index.ts'
import type { PgDb } from '../client.ts'
import { rollouts } from '../../schema-pg.ts'
import {
  pageOf,
  rolloutRow,
  rolloutUpdate,
  toStored,
  type RolloutPage,
  type StoredRollout,
} from '../../queries/rollouts.ts'
import type { Write } from './write.ts'

/** The rollout queries. */
export function rolloutQueries(db: PgDb, write: Write) {
  return {
    /** Inserts a newly opened rollout (ignored if the id exists). */
    insert(...opened: Parameters<typeof rolloutRow>): void {
      write(
        db
          .insert(rollouts)
          .values(rolloutRow(...opened))
          .onConflictDoNothing()
      )
    },
    /** Writes a stepped record back. */
    update(record: RolloutRecord, transitionSeq: number | null): void {
      write(
        db
          .update(rollouts)
          .set(rolloutUpdate(record, transitionSeq))
          .where(eq(rollouts.rolloutId, record.rolloutId))
      )
    },
    /** Every rollout, pruned ones included (their ids stay known so they never reopen). */
    async loadAll(): Promise<StoredRollout[]> {
      return (await db.select().from(rollouts)).map(toStored)
    },
    /** A page of every rollout, newest first by (opened at, id), after the cursor (see SQLite). */
    async page(p: RolloutPage): Promise<StoredRollout[]> {
      const rows = await db
        .select()
        .from(rollouts)
        .where(pageOf(rollouts, p))
        .orderBy(desc(rollouts.openedAt), desc(rollouts.rolloutId))
        .limit(p.limit)
      return rows.map(toStored)
    },
    /** One rollout, pruned included. */
    async get(rolloutId: string): Promise<StoredRollout | undefined> {
      const [r] = await db.select().from(rollouts).where(eq(rollouts.rolloutId, rolloutId)).limit(1)
      return r === undefined ? undefined : toStored(r)
    },
  }
}
