/**
 * The CP store on PostgreSQL (docs/control-plane.md, replicas): the same `Store` as on SQLite, with writes
 * buffered. A transaction runs its function synchronously, collecting each write as a statement
 * (text and parameters); the outermost transaction then submits its statements as one commit
 * job. Jobs run strictly in submission order on one reserved connection: `BEGIN`, the fence
 * check of the leader's epoch (when there is one), the statements, `COMMIT`.
 *
 * Invariants:
 * - Nothing is sent while a transaction runs; a nested transaction that throws cuts the buffer
 *   back to where it began (a savepoint without a round trip), an outermost one that throws
 *   discards everything.
 * - A job is committed only if the fence row was there and every statement succeeded; otherwise
 *   it is rolled back and the store is failed: no later job runs, and `durable()` rejects from
 *   then on (fatal for the CP: its memory is ahead of the database).
 * - `durable()` resolves once every job submitted before the call is committed.
 * - Reads run at once on the pool, so they see committed state only.
 */
import type { ReservedSQL } from 'bun'
import { fenceCheck, FencedOut } from './fence.ts'
import { runStatement, type SqlStatement } from './statement.ts'
import type { Store } from '../store.ts'
import type { OpenPostgres } from './client.ts'
import { dispatchQueries } from './queries/dispatch.ts'
import { eventLogQueries } from './queries/event-log.ts'
import { fleetSafetyQueries } from './queries/fleet-safety.ts'
import { hostRecordQueries } from './queries/host-records.ts'
import { knownHostQueries } from './queries/known-hosts.ts'
import { operatorQueries } from './queries/operator.ts'
import { releaseQueries } from './queries/release.ts'
import { rolloutQueries } from './queries/rollouts.ts'
import { securityQueries } from './queries/security.ts'
import type { Write } from './queries/write.ts'

/** The PostgreSQL store: a `Store` that also takes raw statements into a transaction. */
export type PgStore = Omit<Store, 'close'> & {
  /** Closes the pool once the commits in flight are done (it owns the pool it was given). */
  close(): Promise<void>
  /**
   * Appends `s` to the current transaction's statements (valid only inside `transaction`): the
   * leader marks a follower's input done in the same commit as its effects.
   */
  appendStatement(s: SqlStatement): void
}

/** What `openPgStore` needs besides the database. */
export type PgStoreOptions = {
  /** The fence epoch each commit checks; `undefined` when one process owns the database. */
  readonly fence: () => number | undefined
  /** Whether the database had no NixFleet tables before this start (migrations say). */
  readonly wasEmpty: boolean
}

/** Binds the queries to `pg` (migrated by the caller) behind a write buffer. */
export function openPgStore(pg: OpenPostgres, opts: PgStoreOptions): PgStore {
  // The statements of the transaction being run, or undefined outside one.
  let buffer: SqlStatement[] | undefined
  // The first commit failure: the store is failed for good once it is set.
  let failure: Error | undefined
  // The last submitted job; every job starts after the previous one ended.
  let tail: Promise<void> = Promise.resolve()
  let connection: Promise<ReservedSQL> | undefined

  const append = (s: SqlStatement): void => {
    if (buffer === undefined) throw new Error('a store write outside store.transaction')
    buffer.push(s)
  }
  const write: Write = (q) => {
    const { sql, params } = q.toSQL()
    append({ text: sql, params })
  }

  async function commit(statements: readonly SqlStatement[]) {
    const epoch = opts.fence()
    const conn = await (connection ??= pg.sql.reserve())
    // Everything up to COMMIT is pipelined: one round trip, then COMMIT or ROLLBACK. After a
    // failed statement the server refuses the rest of the transaction, so nothing after it
    // takes effect, and COMMIT is never sent.
    const begin = runStatement(conn, { text: 'BEGIN', params: [] })
    const fenced = epoch === undefined ? undefined : runStatement(conn, fenceCheck(epoch))
    const runs = statements.map((s) => runStatement(conn, s))
    const settled = await Promise.allSettled([begin, ...(fenced ? [fenced] : []), ...runs])
    const failed = settled.find((r) => r.status === 'rejected')
    const fencedRows = fenced === undefined ? undefined : await fenced.catch(() => undefined)
    const error =
      epoch !== undefined && fencedRows !== undefined && fencedRows.length !== 1
        ? new FencedOut(epoch)
        : failed?.status === 'rejected'
          ? asError(failed.reason)
          : undefined
    if (error === undefined) {
      await runStatement(conn, { text: 'COMMIT', params: [] })
      return
    }
    await runStatement(conn, { text: 'ROLLBACK', params: [] }).catch(() => undefined)
    throw error
  }

  function submit(statements: readonly SqlStatement[]): void {
    tail = tail.then(async () => {
      if (failure !== undefined) return
      try {
        await commit(statements)
      } catch (e) {
        failure = asError(e)
      }
    })
  }

  const queries = {
    events: eventLogQueries(pg.db, write),
    hosts: hostRecordQueries(pg.db, write),
    knownHosts: knownHostQueries(pg.db, write),
    rollouts: rolloutQueries(pg.db, write),
    dispatch: dispatchQueries(pg.db, write),
    security: securityQueries(pg.db, write),
    release: releaseQueries(pg.db, write),
    safety: fleetSafetyQueries(pg.db, write),
    operator: operatorQueries(pg.db, write),
  }
  return {
    ...queries,
    wasEmpty: opts.wasEmpty,
    transaction<T>(fn: () => T): T {
      const outer = buffer
      if (outer !== undefined) {
        // Nested: a savepoint is the length of the buffer.
        const mark = outer.length
        try {
          return fn()
        } catch (e) {
          outer.length = mark
          throw e
        }
      }
      const own: SqlStatement[] = []
      buffer = own
      let result: T
      try {
        result = fn()
      } finally {
        buffer = undefined
      }
      if (own.length > 0) submit(own)
      return result
    },
    appendStatement: append,
    async durable(): Promise<void> {
      await tail
      if (failure !== undefined) throw failure
    },
    async close(): Promise<void> {
      await tail.catch(() => undefined)
      if (connection !== undefined) (await connection.catch(() => undefined))?.release()
      await pg.close()
    },
  }
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)))
