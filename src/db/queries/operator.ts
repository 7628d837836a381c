/**
 * The operator's own records: the audit trail (`operator_actions`, paged by id), the hosts an
 * operator skipped in a rollout (`host_skips`) and the emergency denials (`denials`).
 */
import { and, asc, eq, gt } from 'drizzle-orm'
import type { Db } from '../client.ts'
import { denials, hostSkips, operatorActions, probeFailures } from '../schema.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { msOf } from './time.ts'

/** One audited operator action. */
export type StoredAction = {
  readonly id: number
  readonly at: number
  readonly operator: string
  readonly action: string
  readonly target: string
  readonly reason: string | null
}

/** A host an operator skipped in a rollout. */
export type StoredSkip = {
  readonly rolloutId: string
  readonly hostname: string
  readonly at: number
  readonly operator: string
  readonly reason: string
}

/** What a denial names: a host (all its certificates) or an operator certificate by CN. */
export type DenialKind = 'host' | 'operator'

/** An emergency denial. */
export type StoredDenial = {
  readonly kind: DenialKind
  readonly name: string
  readonly reason: string
  readonly by: string
  readonly at: number
}

// The row builders and mappers below are shared with the PostgreSQL queries.

/** A row as an audited action. */
export const toAction = (r: typeof operatorActions.$inferSelect): StoredAction => ({
  id: r.id,
  at: msOf(r.at),
  operator: r.operatorCn,
  action: r.action,
  target: r.target,
  reason: r.reason,
})

/** The row of a skip. */
export const skipRow = (s: StoredSkip) => ({
  rolloutId: s.rolloutId,
  hostname: s.hostname,
  at: toRfc3339(s.at),
  operatorCn: s.operator,
  reason: s.reason,
})

/** A row as a skip. */
export const toSkip = (r: typeof hostSkips.$inferSelect): StoredSkip => ({
  rolloutId: r.rolloutId,
  hostname: r.hostname,
  at: msOf(r.at),
  operator: r.operatorCn,
  reason: r.reason,
})

/** The row of a denial. */
export const denialRow = (d: StoredDenial) => ({
  kind: d.kind,
  name: d.name,
  reason: d.reason,
  deniedBy: d.by,
  at: toRfc3339(d.at),
})

/** A row as a denial. */
export const toDenial = (r: typeof denials.$inferSelect): StoredDenial => ({
  kind: r.kind,
  name: r.name,
  reason: r.reason,
  by: r.deniedBy,
  at: msOf(r.at),
})

/** The audit, skip and denial queries. */
export function operatorQueries(db: Db) {
  return {
    /** A page of the audit trail, oldest first, after id `after`. */
    async actions(after: number, limit: number): Promise<StoredAction[]> {
      return db
        .select()
        .from(operatorActions)
        .where(gt(operatorActions.id, after))
        .orderBy(asc(operatorActions.id))
        .limit(limit)
        .all()
        .map(toAction)
    },
    /** Records a skip (replacing none: a host is skipped once per rollout). */
    insertSkip(s: StoredSkip): void {
      db.insert(hostSkips).values(skipRow(s)).onConflictDoNothing().run()
    },
    /** Every skip. */
    async skips(): Promise<StoredSkip[]> {
      return db.select().from(hostSkips).all().map(toSkip)
    },
    /** Deletes the skips of a rollout (retention). */
    deleteSkipsOf(rolloutId: string): void {
      db.delete(hostSkips).where(eq(hostSkips.rolloutId, rolloutId)).run()
    },
    /** Deletes a host's failing-probe results in a rollout (the host is retried). */
    deleteProbeFailuresOf(rolloutId: string, host: string): void {
      db.delete(probeFailures)
        .where(and(eq(probeFailures.rolloutId, rolloutId), eq(probeFailures.hostId, host)))
        .run()
    },
    /** Inserts or replaces a denial. */
    upsertDenial(d: StoredDenial): void {
      const row = denialRow(d)
      db.insert(denials)
        .values(row)
        .onConflictDoUpdate({ target: [denials.kind, denials.name], set: row })
        .run()
    },
    /** Lifts a denial. */
    deleteDenial(kind: DenialKind, name: string): void {
      db.delete(denials)
        .where(and(eq(denials.kind, kind), eq(denials.name, name)))
        .run()
    },
    /** Every denial. */
    async denials(): Promise<StoredDenial[]> {
      return db.select().from(denials).all().map(toDenial)
    },
  }
}
