/** The rollout queries on PostgreSQL (see `../../queries/rollouts.ts`). */
import { and, desc, eq, inArray, lt, or, type SQL } from 'drizzle-orm'
import type { DisruptionBudget, RolloutRecord } from '../../../core/index.ts'
import type { PgDb } from '../client.ts'
import { rollouts } from '../../schema-pg.ts'
import { toRfc3339 } from '../../../proto/common.ts'
import {
  rolloutRow,
  rolloutUpdate,
  toStored,
  type FrozenPolicy,
  type RolloutPage,
  type StoredRollout,
} from '../../queries/rollouts.ts'
import type { Write } from './write.ts'

/** The rollout queries. */
export function rolloutQueries(db: PgDb, write: Write) {
  return {
    /** Inserts a newly opened rollout (ignored if the id exists). */
    insert(
      record: RolloutRecord,
      policy: FrozenPolicy,
      budgets: readonly DisruptionBudget[],
      openedSeq: number
    ): void {
      write(
        db
          .insert(rollouts)
          .values(rolloutRow(record, policy, budgets, openedSeq))
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
      const where: SQL[] = []
      if (p.channel !== undefined) where.push(eq(rollouts.channel, p.channel))
      if (p.states !== undefined) where.push(inArray(rollouts.state, [...p.states]))
      if (p.after !== undefined) {
        const at = toRfc3339(p.after.openedAt)
        where.push(
          or(
            lt(rollouts.openedAt, at),
            and(eq(rollouts.openedAt, at), lt(rollouts.rolloutId, p.after.rolloutId))
          )!
        )
      }
      const rows = await db
        .select()
        .from(rollouts)
        .where(and(...where))
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
