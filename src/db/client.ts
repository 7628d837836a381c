/**
 * Opening the control plane's SQLite database (bun:sqlite through drizzle-orm).
 * Invariants: one connection per process, used only by the CP's reducer for writes (reads may
 * come from request handlers: the process is single-threaded, so they see committed state);
 * WAL with `synchronous = NORMAL`, foreign keys enforced.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { Database } from 'bun:sqlite'
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite'
import * as schema from './schema.ts'

/** The typed drizzle handle of the CP database. */
export type Db = BunSQLiteDatabase<typeof schema>

/** An open database: the drizzle handle and the native connection behind it. */
export type OpenDatabase = {
  readonly db: Db
  readonly sqlite: Database
  readonly path: string
  close(): void
}

// A writer never waits on another connection in normal operation (one process, one
// connection); five seconds only covers an operator's `sqlite3` shell holding a read lock.
const BUSY_TIMEOUT_MS = 5_000

/** Opens (creating if needed) the database at `path`, or an in-memory one for `:memory:`. */
export function openDatabase(path: string): OpenDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const sqlite = new Database(path, { create: true, strict: true })
  if (path !== ':memory:') sqlite.run('PRAGMA journal_mode = WAL')
  // NORMAL in WAL mode is crash-consistent; a power loss may drop the last commits, which agents
  // re-post (durable outbound queues) and heartbeats re-derive. FULL would fsync every commit,
  // far too slow for thousands of agent events a second after a release.
  sqlite.run('PRAGMA synchronous = NORMAL')
  sqlite.run('PRAGMA foreign_keys = ON')
  sqlite.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  const db = drizzle({ client: sqlite, schema })
  return {
    db,
    sqlite,
    path,
    close: () => sqlite.close(),
  }
}
