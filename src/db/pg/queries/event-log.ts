/**
 * The event-log queries on PostgreSQL (see `../../queries/event-log.ts`). Payloads are JSON
 * text, so a payload field is read with `payload::jsonb->>'…'`.
 */
import {
  and,
  asc,
  count,
  desc,
  eq,
  gt,
  inArray,
  isNotNull,
  lt,
  max,
  notInArray,
  sql,
  type SQL,
} from 'drizzle-orm'
import type { PgDb } from '../client.ts'
import { eventLog, probeFailures } from '../../schema-pg.ts'
import {
  eventRow,
  toEntry,
  type EventKind,
  type EventLogEntry,
  type NewEvent,
} from '../../queries/event-log.ts'
import type { Write } from './write.ts'

/** The event-log queries. */
export function eventLogQueries(db: PgDb, write: Write) {
  return {
    /** Appends one row at its assigned seq. */
    append(e: NewEvent): void {
      write(db.insert(eventLog).values(eventRow(e)))
    },
    /**
     * Deletes the probe results of one host in one rollout beyond the newest `keep`, except the
     * first failure of each probe or control (what the compliance gate and the audit need).
     */
    trimProbeResults(host: string, rolloutId: string, keep: number): void {
      const firstFailures = db
        .select({ seq: sql<number>`min(${probeFailures.eventLogSeq})` })
        .from(probeFailures)
        .where(
          and(
            eq(probeFailures.hostId, host),
            eq(probeFailures.rolloutId, rolloutId),
            isNotNull(probeFailures.eventLogSeq)
          )
        )
        .groupBy(sql`coalesce(${probeFailures.controlId}, ${probeFailures.probeName})`)
      const beyond = db
        .select({ seq: eventLog.seq })
        .from(eventLog)
        .where(
          and(
            eq(eventLog.hostId, host),
            eq(eventLog.rolloutId, rolloutId),
            eq(eventLog.kind, 'agent_event'),
            sql`${eventLog.payload}::jsonb->>'kind' = 'ProbeResult'`,
            notInArray(eventLog.seq, firstFailures)
          )
        )
        .orderBy(desc(eventLog.seq))
        .offset(keep)
      write(db.delete(eventLog).where(inArray(eventLog.seq, beyond)))
    },
    /** The events of a rollout, seq ascending, at most `limit`. */
    async forRollout(rolloutId: string, limit: number): Promise<EventLogEntry[]> {
      const rows = await db
        .select()
        .from(eventLog)
        .where(eq(eventLog.rolloutId, rolloutId))
        .orderBy(asc(eventLog.seq))
        .limit(limit)
      return rows.map(toEntry)
    },
    /** A page of a rollout's events (see the SQLite module). */
    async pageOfRollout(
      rolloutId: string,
      q: {
        readonly cursor: number | undefined
        readonly host: string | undefined
        readonly kind: EventKind | undefined
        readonly order: 'asc' | 'desc'
        readonly limit: number
      }
    ): Promise<EventLogEntry[]> {
      const where: SQL[] = [eq(eventLog.rolloutId, rolloutId)]
      if (q.host !== undefined) where.push(eq(eventLog.hostId, q.host))
      if (q.kind !== undefined) where.push(eq(eventLog.kind, q.kind))
      if (q.cursor !== undefined)
        where.push(q.order === 'asc' ? gt(eventLog.seq, q.cursor) : lt(eventLog.seq, q.cursor))
      const rows = await db
        .select()
        .from(eventLog)
        .where(and(...where))
        .orderBy(q.order === 'asc' ? asc(eventLog.seq) : desc(eventLog.seq))
        .limit(q.limit)
      return rows.map(toEntry)
    },
    /** One row by seq. */
    async bySeq(seq: number): Promise<EventLogEntry | undefined> {
      const [r] = await db.select().from(eventLog).where(eq(eventLog.seq, seq)).limit(1)
      return r === undefined ? undefined : toEntry(r)
    },
    /** Every event of a kind after `afterSeq`, seq ascending (tests, re-derivation). */
    async ofKind(kind: EventKind, afterSeq = 0): Promise<EventLogEntry[]> {
      const rows = await db
        .select()
        .from(eventLog)
        .where(and(eq(eventLog.kind, kind), gt(eventLog.seq, afterSeq)))
        .orderBy(asc(eventLog.seq))
      return rows.map(toEntry)
    },
    /** The newest events of a host, newest first. */
    async forHost(host: string, limit: number): Promise<EventLogEntry[]> {
      const rows = await db
        .select()
        .from(eventLog)
        .where(eq(eventLog.hostId, host))
        .orderBy(desc(eventLog.seq))
        .limit(limit)
      return rows.map(toEntry)
    },
    /** The number of rows. */
    async count(): Promise<number> {
      const [r] = await db.select({ n: count() }).from(eventLog)
      return r!.n
    },
    /** The seq the next row gets: one above the highest, 1 for an empty log. */
    async nextSeq(): Promise<number> {
      // No sequence here: the leader assigns every seq, so the highest row is the high mark.
      const [r] = await db.select({ seq: max(eventLog.seq) }).from(eventLog)
      return (r?.seq ?? 0) + 1
    },
  }
}
