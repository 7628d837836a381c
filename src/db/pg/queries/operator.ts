/** The audit, skip and denial queries on PostgreSQL (see `../../queries/operator.ts`). */
import { and, asc, eq, gt } from 'drizzle-orm'
import type { PgDb } from '../client.ts'
import { denials, hostSkips, operatorActions, probeFailures } from '../../schema-pg.ts'
import {
  denialRow,
  skipRow,
  toAction,
  toDenial,
  toSkip,
  type DenialKind,
  type StoredAction,
  type StoredDenial,
  type StoredSkip,
} from '../../queries/operator.ts'
import type { Write } from './write.ts'

/** The audit, skip and denial queries. */
export function operatorQueries(db: PgDb, write: Write) {
  return {
    /** A page of the audit trail, oldest first, after id `after`. */
    async actions(after: number, limit: number): Promise<StoredAction[]> {
      const rows = await db
        .select()
        .from(operatorActions)
        .where(gt(operatorActions.id, after))
        .orderBy(asc(operatorActions.id))
        .limit(limit)
      return rows.map(toAction)
    },
    /** Records a skip (replacing none: a host is skipped once per rollout). */
    insertSkip(s: StoredSkip): void {
      write(db.insert(hostSkips).values(skipRow(s)).onConflictDoNothing())
    },
    /** Every skip. */
    async skips(): Promise<StoredSkip[]> {
      return (await db.select().from(hostSkips)).map(toSkip)
    },
    /** Deletes the skips of a rollout (retention). */
    deleteSkipsOf(rolloutId: string): void {
      write(db.delete(hostSkips).where(eq(hostSkips.rolloutId, rolloutId)))
    },
    /** Deletes a host's failing-probe results in a rollout (the host is retried). */
    deleteProbeFailuresOf(rolloutId: string, host: string): void {
      write(
        db
          .delete(probeFailures)
          .where(and(eq(probeFailures.rolloutId, rolloutId), eq(probeFailures.hostId, host)))
      )
    },
    /** Inserts or replaces a denial. */
    upsertDenial(d: StoredDenial): void {
      const row = denialRow(d)
      write(
        db
          .insert(denials)
          .values(row)
          .onConflictDoUpdate({ target: [denials.kind, denials.name], set: row })
      )
    },
    /** Lifts a denial. */
    deleteDenial(kind: DenialKind, name: string): void {
      write(db.delete(denials).where(and(eq(denials.kind, kind), eq(denials.name, name))))
    },
    /** Every denial. */
    async denials(): Promise<StoredDenial[]> {
      return (await db.select().from(denials)).map(toDenial)
    },
  }
}
