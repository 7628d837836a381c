/**
 * Opening the control plane's state database named by `--database`: a SQLite file (with the
 * loss marker and the anti-rollback marks kept beside it, and the file watched) or a PostgreSQL
 * database shared by replicas (migrated under an advisory lock; every write fenced by the
 * replica's epoch). Failures are one `CpStartError` sentence naming the database.
 * Invariant: what this opened is closed again when it fails part-way.
 */
import { describePostgresUrl, openPostgres, type OpenPostgres } from '../db/pg/client.ts'
import { applyPgMigrations } from '../db/pg/migrate.ts'
import { openPgStore, type PgStore } from '../db/pg/store.ts'
import { openStore, type Store } from '../db/store.ts'
import { toRfc3339 } from '../proto/common.ts'
import type { Clock } from '../runtime/clock.ts'
import type { Logger } from '../runtime/log.ts'
import type { CpConfig } from './config.ts'
import { noteDatabaseLoss } from './db-lost.ts'
import { marksFilePath, mirrorMarks } from './marks-file.ts'
import { CpStartError, messageOf } from './start-error.ts'

/** An open state database. */
export type StateDatabase =
  | {
      readonly kind: 'sqlite'
      readonly store: Store
      /** The file, for messages and the file watch. */
      readonly where: string
      readonly path: string
      /** When this database was last lost (bootstrap tokens minted before are refused). */
      readonly dbLostAt: number | null
    }
  | {
      readonly kind: 'postgres'
      readonly store: PgStore
      readonly where: string
      readonly pg: OpenPostgres
      readonly dbLostAt: null
    }

/**
 * Opens the database of `config`; for PostgreSQL, `fence()` is asked for the epoch every write
 * transaction must still hold (the replica's, or one that never passes while it follows).
 */
export async function openStateDatabase(
  config: CpConfig,
  clock: Clock,
  log: Logger,
  fence: () => number
): Promise<StateDatabase> {
  const target = config.database
  if (target.kind === 'postgres') {
    const where = describePostgresUrl(target.url)
    let pg: OpenPostgres | undefined
    try {
      pg = await openPostgres(target)
      const { wasEmpty } = await applyPgMigrations(pg.sql)
      if (wasEmpty) log.info('new state database', { database: where })
      return {
        kind: 'postgres',
        where,
        pg,
        store: openPgStore(pg, { fence, wasEmpty }),
        dbLostAt: null,
      }
    } catch (e) {
      await pg?.close()
      throw new CpStartError(`database ${where}: ${messageOf(e)}`)
    }
  }
  const path = target.path
  let store: Store
  try {
    store = openStore(path)
  } catch (e) {
    throw new CpStartError(`database ${path}: ${messageOf(e)}`)
  }
  let dbLostAt: number | null
  try {
    // Before the marks are mirrored: their file beside a new database is the trace of a lost one.
    dbLostAt = noteDatabaseLoss(path, store.wasEmpty, clock.now())
    // The anti-rollback marks are kept beside the database as well: they survive its loss.
    store.release = await mirrorMarks(store.release, marksFilePath(path))
  } catch (e) {
    store.close()
    throw new CpStartError(messageOf(e))
  }
  if (store.wasEmpty) log.info('new state database', { path })
  if (dbLostAt !== null)
    log.warn(
      'the state database was lost: bootstrap tokens issued before then are refused until the bootstrap-nonces list is re-signed with mintedAfter',
      { db: path, lostAt: toRfc3339(dbLostAt) }
    )
  return { kind: 'sqlite', store, where: path, path, dbLostAt }
}
