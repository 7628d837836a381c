/**
 * The canonical event log: append and read. Append-only by construction: this module has no
 * update, and its one delete is the per-host retention of repeated probe results
 * (`trimProbeResults`), which keeps every row that explains a transition or a probe failure
 * first seen. Payloads are JSON objects; callers pass plain values.
 */
import {
  and,
  asc,
  desc,
  eq,
  gt,
  inArray,
  isNotNull,
  lt,
  notInArray,
  sql,
  type AnyColumn,
  type Table,
  type SQL,
} from 'drizzle-orm'
import type { Db } from '../client.ts'
import { EVENT_KINDS, eventLog, probeFailures } from '../schema.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { msOf } from './time.ts'

/** The kind of an event-log row. */
export type EventKind = (typeof EVENT_KINDS)[number]

/** One event-log row as the API and tests see it. */
export type EventLogEntry = {
  readonly seq: number
  readonly ts: number
  readonly kind: EventKind
  readonly host: string | null
  readonly rolloutId: string | null
  readonly payload: Record<string, unknown>
}

/** What an append writes; `seq` is assigned by the caller (the mutator keeps the next one). */
export type NewEvent = {
  readonly seq: number
  readonly ts: number
  readonly kind: EventKind
  readonly host?: string | null
  readonly rolloutId?: string | null
  readonly payload: Record<string, unknown>
}

/** A page of a rollout's events (`pageOfRollout`). */
export type EventPage = {
  readonly cursor: number | undefined
  readonly host: string | undefined
  readonly kind: EventKind | undefined
  readonly order: 'asc' | 'desc'
  readonly limit: number
}

// The conditions below are shared with the PostgreSQL queries: they read columns of either
// dialect's tables and are plain SQL in both.

type EventColumns = { seq: AnyColumn; hostId: AnyColumn; rolloutId: AnyColumn; kind: AnyColumn }
type FailureColumns = {
  hostId: AnyColumn
  rolloutId: AnyColumn
  eventLogSeq: AnyColumn
  controlId: AnyColumn
  probeName: AnyColumn
}

/** What a failing probe result is about: its control, or the probe when it has none. */
export const failureItem = (f: FailureColumns) =>
  sql<string>`coalesce(${f.controlId}, ${f.probeName})`

/** The subquery of the seq of each item's first failure, of one host in one rollout. */
export const firstFailureSeqs = (f: Table & FailureColumns, host: string, rolloutId: string): SQL =>
  sql`(select min(${f.eventLogSeq}) from ${f} where ${failuresOf(f, host, rolloutId)} group by ${failureItem(f)})`

/** The probe failures of one host in one rollout that name their event. */
const failuresOf = (f: FailureColumns, host: string, rolloutId: string): SQL =>
  and(eq(f.hostId, host), eq(f.rolloutId, rolloutId), isNotNull(f.eventLogSeq))!

/** The agent events of one host in one rollout. */
export const agentEventsOf = (e: EventColumns, host: string, rolloutId: string): SQL =>
  and(eq(e.hostId, host), eq(e.rolloutId, rolloutId), eq(e.kind, 'agent_event'))!

/** The rows of a page of a rollout's events (order and limit are the caller's). */
export function pageOf(e: EventColumns, rolloutId: string, q: EventPage): SQL {
  const where: SQL[] = [eq(e.rolloutId, rolloutId)]
  if (q.host !== undefined) where.push(eq(e.hostId, q.host))
  if (q.kind !== undefined) where.push(eq(e.kind, q.kind))
  if (q.cursor !== undefined)
    where.push(q.order === 'asc' ? gt(e.seq, q.cursor) : lt(e.seq, q.cursor))
  return and(...where)!
}

/** A row as an entry (shared with the PostgreSQL queries). */
export const toEntry = (r: typeof eventLog.$inferSelect): EventLogEntry => ({
  seq: r.seq,
  ts: msOf(r.ts),
  kind: r.kind,
  host: r.hostId,
  rolloutId: r.rolloutId,
  payload: JSON.parse(r.payload) as Record<string, unknown>,
})

/** The row of an appended event (shared with the PostgreSQL queries). */
export const eventRow = (e: NewEvent) => ({
  seq: e.seq,
  ts: toRfc3339(e.ts),
  hostId: e.host ?? null,
  rolloutId: e.rolloutId ?? null,
  kind: e.kind,
  payload: JSON.stringify(e.payload),
})

/** The event-log queries. */
export function eventLogQueries(db: Db) {
  const insert = db
    .insert(eventLog)
    .values({
      seq: sql.placeholder('seq'),
      ts: sql.placeholder('ts'),
      hostId: sql.placeholder('hostId'),
      rolloutId: sql.placeholder('rolloutId'),
      kind: sql.placeholder('kind'),
      payload: sql.placeholder('payload'),
    })
    .prepare()
  return {
    /** Appends one row at its assigned seq. */
    append(e: NewEvent): void {
      insert.run(eventRow(e))
    },
    /**
     * Deletes the probe results of one host in one rollout beyond the newest `keep`, except the
     * first failure of each probe or control (what the compliance gate and the audit need).
     */
    trimProbeResults(host: string, rolloutId: string, keep: number): void {
      const beyond = db
        .select({ seq: eventLog.seq })
        .from(eventLog)
        .where(
          and(
            agentEventsOf(eventLog, host, rolloutId),
            sql`json_extract(${eventLog.payload}, '$.kind') = 'ProbeResult'`,
            notInArray(eventLog.seq, firstFailureSeqs(probeFailures, host, rolloutId))
          )
        )
        .orderBy(desc(eventLog.seq))
        // SQLite needs a LIMIT before OFFSET; drizzle drops a negative one.
        .limit(Number.MAX_SAFE_INTEGER)
        .offset(keep)
      db.delete(eventLog).where(inArray(eventLog.seq, beyond)).run()
    },
    /** The events of a rollout, seq ascending, at most `limit`. */
    async forRollout(rolloutId: string, limit: number): Promise<EventLogEntry[]> {
      return db
        .select()
        .from(eventLog)
        .where(eq(eventLog.rolloutId, rolloutId))
        .orderBy(asc(eventLog.seq))
        .limit(limit)
        .all()
        .map(toEntry)
    },
    /**
     * A page of a rollout's events: after (ascending) or before (descending) `cursor`, of one
     * host and one kind when given. Served by `event_log_rollout_seq` and, per host,
     * `event_log_rollout_host_seq`, so the end of a large rollout is one index seek away.
     */
    async pageOfRollout(rolloutId: string, q: EventPage): Promise<EventLogEntry[]> {
      return db
        .select()
        .from(eventLog)
        .where(pageOf(eventLog, rolloutId, q))
        .orderBy(q.order === 'asc' ? asc(eventLog.seq) : desc(eventLog.seq))
        .limit(q.limit)
        .all()
        .map(toEntry)
    },
    /** One row by seq. */
    async bySeq(seq: number): Promise<EventLogEntry | undefined> {
      const r = db.select().from(eventLog).where(eq(eventLog.seq, seq)).get()
      return r === undefined ? undefined : toEntry(r)
    },
    /** Every event of a kind after `afterSeq`, seq ascending (tests, re-derivation). */
    async ofKind(kind: EventKind, afterSeq = 0): Promise<EventLogEntry[]> {
      return db
        .select()
        .from(eventLog)
        .where(and(eq(eventLog.kind, kind), gt(eventLog.seq, afterSeq)))
        .orderBy(asc(eventLog.seq))
        .all()
        .map(toEntry)
    },
    /** The newest events of a host, newest first. */
    async forHost(host: string, limit: number): Promise<EventLogEntry[]> {
      return db
        .select()
        .from(eventLog)
        .where(eq(eventLog.hostId, host))
        .orderBy(desc(eventLog.seq))
        .limit(limit)
        .all()
        .map(toEntry)
    },
    /** The number of rows. */
    async count(): Promise<number> {
      return db
        .select({ n: sql<number>`count(*)` })
        .from(eventLog)
        .get()!.n
    },
    /** The seq the next row gets: one above the highest, 1 for an empty log. */
    async nextSeq(): Promise<number> {
      // AUTOINCREMENT never reuses a seq, not even a deleted newest one: its high mark counts too.
      const [r] = db.all<{ seq: number }>(
        sql`select max(coalesce((select max(seq) from event_log), 0), coalesce((select seq from sqlite_sequence where name = 'event_log'), 0)) as seq`
      )
      return r!.seq + 1
    },
  }
}
