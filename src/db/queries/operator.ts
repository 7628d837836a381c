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
        .map((r) => ({
          id: r.id,
          at: msOf(r.at),
          operator: r.operatorCn,
          action: r.action,
          target: r.target,
          reason: r.reason,
        }))
    },
    /** Records a skip (replacing none: a host is skipped once per rollout). */
    insertSkip(s: StoredSkip): void {
      db.insert(hostSkips)
        .values({
          rolloutId: s.rolloutId,
          hostname: s.hostname,
          at: toRfc3339(s.at),
          operatorCn: s.operator,
          reason: s.reason,
        })
        .onConflictDoNothing()
        .run()
    },
    /** Every skip. */
    async skips(): Promise<StoredSkip[]> {
      return db
        .select()
        .from(hostSkips)
        .all()
        .map((r) => ({
          rolloutId: r.rolloutId,
          hostname: r.hostname,
          at: msOf(r.at),
          operator: r.operatorCn,
          reason: r.reason,
        }))
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
      const row = {
        kind: d.kind,
        name: d.name,
        reason: d.reason,
        deniedBy: d.by,
        at: toRfc3339(d.at),
      }
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
      return db
        .select()
        .from(denials)
        .all()
        .map((r) => ({
          kind: r.kind,
          name: r.name,
          reason: r.reason,
          by: r.deniedBy,
          at: msOf(r.at),
        }))
    },
  }
}
