/**
 * The database flags of `nixfleet control-plane` (`--database`, its deprecated alias `--db-path`,
 * `--database-password-file`, `--replica-id`), checked without writing anything: a SQLite path
 * must be writable and a SQLite file, a password file readable here and by no other user.
 * Invariants: at most one flag names the database (none: `CP_DEFAULTS.database`); a password file and a replica id go only with
 * a postgres:// URL (SQLite has no password, and replicas share one PostgreSQL); problems are
 * reported through the caller's `fail`, in its words.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readSync } from 'node:fs'
import { dirname } from 'node:path'
import { CP_DEFAULTS } from '../../cp/config.ts'
import { parseDatabaseUrl, passwordFileProblem, type DatabaseTarget } from '../../db/url.ts'
import { dirWriteProblem, fsReason } from '../../runtime/durable-fs.ts'
import type { ParsedArgs } from '../args.ts'
import { str } from '../args.ts'

// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER = 'SQLite format 3\0'

/**
 * The database can be opened for writing, judged without creating anything: its directory (or the
 * nearest existing ancestor) is writable, and an existing file is writable and a SQLite database.
 * `given` is the flag and value that named it, for the message.
 */
function checkDatabasePath(path: string, given: string, fail: (message: string) => never): void {
  if (path === ':memory:') return
  const p = dirWriteProblem(dirname(path))
  if (p !== undefined) fail(`${given}: cannot write in ${p.at}: ${p.reason}`)
  if (!existsSync(path)) return
  let head: string
  try {
    accessSync(path, constants.W_OK)
    const fd = openSync(path, 'r')
    try {
      const buf = Buffer.alloc(SQLITE_HEADER.length)
      head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('latin1')
    } finally {
      closeSync(fd)
    }
  } catch (e) {
    return fail(`${given}: ${fsReason(e)}`)
  }
  // An empty file is a new database to SQLite; anything else must carry its header.
  if (head !== '' && head !== SQLITE_HEADER) fail(`database ${path}: file is not a database`)
}

/**
 * The database named by `--database` (default `CP_DEFAULTS.database`) or by its deprecated alias
 * `--db-path PATH` (`sqlite://PATH`, relative paths and `:memory:` as before), with the flag and
 * value that named it (for messages). `failWith` reports a problem in the caller's words.
 */
export function chosenDatabase(
  args: ParsedArgs,
  failWith: (message: string) => never
): { target: DatabaseTarget; given: string } {
  const url = str(args, 'database')
  const dbPath = str(args, 'db-path')
  if (url !== undefined && dbPath !== undefined)
    failWith(
      '--database and --db-path (its deprecated alias) both name the database: give only --database'
    )
  if (dbPath !== undefined)
    return { target: { kind: 'sqlite', path: dbPath }, given: `--db-path ${dbPath}` }
  const given = url ?? CP_DEFAULTS.database
  try {
    return { target: parseDatabaseUrl(given), given: `--database ${given}` }
  } catch (e) {
    return failWith(`--database: ${(e as Error).message}`)
  }
}

/** The state database and `--database-password-file`, which only a PostgreSQL URL takes. */
function databaseOf(args: ParsedArgs, fail: (message: string) => never): DatabaseTarget {
  const { target, given } = chosenDatabase(args, fail)
  const passwordFile = str(args, 'database-password-file')
  if (target.kind === 'sqlite') {
    if (passwordFile !== undefined)
      fail('--database-password-file is only for a postgres:// --database (SQLite has no password)')
    checkDatabasePath(target.path, given, fail)
    return target
  }
  if (passwordFile === undefined) return target
  const problem = passwordFileProblem(passwordFile)
  if (problem !== undefined) fail(`--database-password-file ${passwordFile}: ${problem}`)
  return { ...target, passwordFile }
}

/** The checked `--database` (with its password file) and `--replica-id`. */
export function databaseFlags(
  args: ParsedArgs,
  fail: (message: string) => never
): { database: DatabaseTarget; replicaId: string | undefined } {
  const database = databaseOf(args, fail)
  const replicaId = str(args, 'replica-id')
  if (replicaId !== undefined && database.kind !== 'postgres')
    fail('--replica-id is only for a postgres:// --database (replicas share one PostgreSQL)')
  if (replicaId !== undefined && !/^[A-Za-z0-9._:@-]{1,128}$/.test(replicaId))
    fail('--replica-id must be 1-128 letters, digits or . _ : @ -')
  return { database, replicaId }
}
