/**
 * The outbound dispatch queue: one row per (host, rollout) while a dispatch waits for its agent.
 * The mutator keeps the queue in memory too: taking a dispatch reads it there and deletes its row
 * here, in the transaction that records the delivery, so it is delivered at most once per enqueue.
 */
import { and, asc, eq, sql } from 'drizzle-orm'
import type { Db } from '../client.ts'
import { dispatchQueue } from '../schema.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { replaceFromExcluded } from './excluded.ts'
import { msOf } from './time.ts'

/** A queued dispatch. */
export type QueuedDispatch = {
  readonly hostname: string
  readonly rolloutId: string
  readonly targetClosure: string
  readonly soakDueAt: number
  readonly enqueuedAt: number
  readonly waveIndex: number
}

type Row = typeof dispatchQueue.$inferSelect

/** A row as a queued dispatch (shared with the PostgreSQL queries). */
export const toDispatch = (r: Row): QueuedDispatch => ({
  hostname: r.hostname,
  rolloutId: r.rolloutId,
  targetClosure: r.targetClosure,
  soakDueAt: msOf(r.soakDueAt),
  enqueuedAt: msOf(r.enqueuedAt),
  waveIndex: r.waveIndex,
})

/** The row of a queued dispatch (shared with the PostgreSQL queries). */
export const dispatchRow = (d: QueuedDispatch) => ({
  hostname: d.hostname,
  rolloutId: d.rolloutId,
  targetClosure: d.targetClosure,
  soakDueAt: toRfc3339(d.soakDueAt),
  enqueuedAt: toRfc3339(d.enqueuedAt),
  waveIndex: d.waveIndex,
})

/** What an upsert replaces on conflict: every non-key column, from the proposed row. */
export const DISPATCH_REPLACE = replaceFromExcluded(dispatchQueue, ['hostname', 'rolloutId'])

/** The dispatch-queue queries. */
export function dispatchQueries(db: Db) {
  const remove = db
    .delete(dispatchQueue)
    .where(
      and(
        eq(dispatchQueue.hostname, sql.placeholder('hostname')),
        eq(dispatchQueue.rolloutId, sql.placeholder('rolloutId'))
      )
    )
    .prepare()
  // Prepared once: opening a wave queues a dispatch per host inside one transaction.
  const upsert = db
    .insert(dispatchQueue)
    .values({
      hostname: sql.placeholder('hostname'),
      rolloutId: sql.placeholder('rolloutId'),
      targetClosure: sql.placeholder('targetClosure'),
      soakDueAt: sql.placeholder('soakDueAt'),
      enqueuedAt: sql.placeholder('enqueuedAt'),
      waveIndex: sql.placeholder('waveIndex'),
    })
    .onConflictDoUpdate({
      target: [dispatchQueue.hostname, dispatchQueue.rolloutId],
      set: DISPATCH_REPLACE,
    })
    .prepare()
  return {
    /** Inserts or replaces the dispatch of (host, rollout). */
    upsert(d: QueuedDispatch): void {
      upsert.run(dispatchRow(d))
    },
    /** Deletes the dispatch of (host, rollout), if queued (taken or withdrawn). */
    delete(hostname: string, rolloutId: string): void {
      remove.run({ hostname, rolloutId })
    },
    /** Deletes every queued dispatch of a rollout (halted or superseded). */
    deleteOfRollout(rolloutId: string): void {
      db.delete(dispatchQueue).where(eq(dispatchQueue.rolloutId, rolloutId)).run()
    },
    /** Every queued dispatch, oldest first (loaded at start). */
    async all(): Promise<QueuedDispatch[]> {
      return db
        .select()
        .from(dispatchQueue)
        .orderBy(asc(dispatchQueue.enqueuedAt))
        .all()
        .map(toDispatch)
    },
  }
}
