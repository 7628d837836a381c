/**
 * Quarantined closures (per channel), failing enforce-probe results (compliance-wave gate) and
 * operator actions.
 */
import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../client.ts'
import { operatorActions, probeFailures, quarantinedClosures } from '../schema.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { msOf } from './time.ts'

/** A quarantined closure. */
export type StoredQuarantine = {
  readonly channel: string
  readonly closure: string
  readonly quarantinedAt: number
  readonly eventLogSeq: number | null
}

/** One failing enforce-probe result. */
export type NewProbeFailure = {
  readonly eventLogSeq: number
  readonly rolloutId: string
  readonly host: string
  readonly probeName: string
  readonly controlId: string | null
  readonly framework: string | null
  readonly observedAt: number
}

/** An operator action to record. */
export type NewOperatorAction = {
  at: number
  operator: string
  action: string
  target: string
  reason: string | null
  eventLogSeq: number
}

// The row builders and mapper below are shared with the PostgreSQL queries.

/** The row of a quarantine. */
export const quarantineRow = (q: StoredQuarantine) => ({
  channel: q.channel,
  closureHash: q.closure,
  quarantinedAt: toRfc3339(q.quarantinedAt),
  triggeringEventLogSeq: q.eventLogSeq,
})

/** A row as a quarantine. */
export const toQuarantine = (r: typeof quarantinedClosures.$inferSelect): StoredQuarantine => ({
  channel: r.channel,
  closure: r.closureHash,
  quarantinedAt: msOf(r.quarantinedAt),
  eventLogSeq: r.triggeringEventLogSeq,
})

/** The row of a failing probe result. */
export const probeFailureRow = (f: NewProbeFailure) => ({
  eventLogSeq: f.eventLogSeq,
  rolloutId: f.rolloutId,
  hostId: f.host,
  probeName: f.probeName,
  controlId: f.controlId,
  framework: f.framework,
  observedAt: toRfc3339(f.observedAt),
})

/** The row of an operator action. */
export const operatorActionRow = (a: NewOperatorAction) => ({
  at: toRfc3339(a.at),
  operatorCn: a.operator,
  action: a.action,
  target: a.target,
  reason: a.reason,
  eventLogSeq: a.eventLogSeq,
})

/** The quarantine, probe-failure and operator-action queries. */
export function fleetSafetyQueries(db: Db) {
  return {
    /** Quarantines a closure on a channel (no-op if already). */
    quarantine(q: StoredQuarantine): void {
      db.insert(quarantinedClosures).values(quarantineRow(q)).onConflictDoNothing().run()
    },
    /** Lifts a quarantine (no-op if there was none). */
    unquarantine(channel: string, closure: string): void {
      db.delete(quarantinedClosures)
        .where(
          and(
            eq(quarantinedClosures.channel, channel),
            eq(quarantinedClosures.closureHash, closure)
          )
        )
        .run()
    },
    /** Every quarantine. */
    async quarantines(): Promise<StoredQuarantine[]> {
      return db.select().from(quarantinedClosures).all().map(toQuarantine)
    },
    /** Records a failing enforce-probe result. */
    insertProbeFailure(f: NewProbeFailure): void {
      db.insert(probeFailures).values(probeFailureRow(f)).run()
    },
    /** The distinct failing items per (rollout, host): the control, or the probe without one. */
    async probeFailureKeys(): Promise<{ rolloutId: string; host: string; item: string }[]> {
      return db
        .selectDistinct({
          rolloutId: probeFailures.rolloutId,
          host: probeFailures.hostId,
          item: sql<string>`coalesce(${probeFailures.controlId}, ${probeFailures.probeName})`,
        })
        .from(probeFailures)
        .all()
    },
    /** Records an operator action. */
    insertOperatorAction(a: NewOperatorAction): void {
      db.insert(operatorActions).values(operatorActionRow(a)).run()
    },
  }
}
