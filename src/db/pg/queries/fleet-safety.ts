/** The quarantine, probe-failure and operator-action queries on PostgreSQL (see the SQLite module). */
import { and, eq, sql } from 'drizzle-orm'
import type { PgDb } from '../client.ts'
import { operatorActions, probeFailures, quarantinedClosures } from '../../schema-pg.ts'
import {
  operatorActionRow,
  probeFailureRow,
  quarantineRow,
  toQuarantine,
  type NewOperatorAction,
  type NewProbeFailure,
  type StoredQuarantine,
} from '../../queries/fleet-safety.ts'
import type { Write } from './write.ts'

/** The quarantine, probe-failure and operator-action queries. */
export function fleetSafetyQueries(db: PgDb, write: Write) {
  return {
    /** Quarantines a closure on a channel (no-op if already). */
    quarantine(q: StoredQuarantine): void {
      write(db.insert(quarantinedClosures).values(quarantineRow(q)).onConflictDoNothing())
    },
    /** Lifts a quarantine (no-op if there was none). */
    unquarantine(channel: string, closure: string): void {
      write(
        db
          .delete(quarantinedClosures)
          .where(
            and(
              eq(quarantinedClosures.channel, channel),
              eq(quarantinedClosures.closureHash, closure)
            )
          )
      )
    },
    /** Every quarantine. */
    async quarantines(): Promise<StoredQuarantine[]> {
      return (await db.select().from(quarantinedClosures)).map(toQuarantine)
    },
    /** Records a failing enforce-probe result. */
    insertProbeFailure(f: NewProbeFailure): void {
      write(db.insert(probeFailures).values(probeFailureRow(f)))
    },
    /** The distinct failing items per (rollout, host): the control, or the probe without one. */
    async probeFailureKeys(): Promise<{ rolloutId: string; host: string; item: string }[]> {
      return await db
        .selectDistinct({
          rolloutId: probeFailures.rolloutId,
          host: probeFailures.hostId,
          item: sql<string>`coalesce(${probeFailures.controlId}, ${probeFailures.probeName})`,
        })
        .from(probeFailures)
    },
    /** Records an operator action. */
    insertOperatorAction(a: NewOperatorAction): void {
      write(db.insert(operatorActions).values(operatorActionRow(a)))
    },
  }
}
