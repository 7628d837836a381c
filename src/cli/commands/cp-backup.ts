/**
 * `nixfleet cp backup FILE`: a consistent copy of the control plane's SQLite database, taken while
 * the CP runs. `nixfleet control-plane` is the daemon; the `cp` group holds the operator's
 * commands on its database (`cp backup`, `cp migrate`), so neither name shadows the other.
 * Invariants: the live database is only read (a read-only connection; `VACUUM INTO` copies one
 * read transaction's snapshot, so the CP keeps writing meanwhile and the copy is consistent);
 * FILE is created exclusively with mode 0600 (an existing file is never overwritten) and removed
 * again when the copy fails; PostgreSQL is refused (pg_dump is its tool).
 */
import { Database } from 'bun:sqlite'
import { chmodSync, closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs'
import type { CommandSpec, ParsedArgs } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { CP_DEFAULTS } from '../../cp/config.ts'
import { fsReason } from '../../runtime/durable-fs.ts'
import { chosenDatabase } from './control-plane-database.ts'
import { cpEnv } from './control-plane-flags.ts'

export const cpBackupSpec: CommandSpec = {
  name: 'cp backup',
  summary: "copy the control plane's SQLite database while it runs",
  usage: 'nixfleet cp backup FILE [--database sqlite:///PATH | --db-path PATH]',
  details:
    'Copies a consistent snapshot (VACUUM INTO on a read-only connection; the CP keeps running)\n' +
    'into FILE, which must not exist, with mode 0600. For PostgreSQL use pg_dump.',
  positionals: { min: 1, max: 1, names: 'FILE' },
  options: {
    database: {
      type: 'string',
      value: 'URL',
      description: `the database, as the control plane's --database (default ${CP_DEFAULTS.database})`,
      env: cpEnv('database'),
    },
    'db-path': {
      type: 'string',
      value: 'PATH',
      description: 'deprecated alias: --database sqlite://PATH',
      env: cpEnv('db-path'),
    },
  },
}

function fail(message: string): never {
  throw new CliError(`cp backup: ${message}`)
}

// A CP writer holds its lock for milliseconds; the copy's read transaction waits that long at most.
const BUSY_TIMEOUT_MS = 5_000

/** What a copy holds: its tables with their row counts, and whether it checked out whole. */
function describe(file: string): { integrity: string; tables: [string, number][] } {
  const db = new Database(file, { readonly: true })
  try {
    const integrity = db.query<{ integrity_check: string }, []>('PRAGMA integrity_check').all()
    const names = db
      .query<{ name: string }, []>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
      )
      .all()
    const tables = names.map(({ name }): [string, number] => [
      name,
      db
        .query<{ n: number }, []>(`SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}"`)
        .get()!.n,
    ])
    return { integrity: integrity.map((r) => r.integrity_check).join('; '), tables }
  } finally {
    db.close()
  }
}

/** Runs `nixfleet cp backup`. */
export async function cpBackup(args: ParsedArgs): Promise<number> {
  const file = args.positionals[0]!
  const { target } = chosenDatabase(args, fail)
  if (target.kind === 'postgres')
    fail(`${target.url} is PostgreSQL: use pg_dump (this command copies SQLite databases)`)
  const source = target.path
  if (source === ':memory:') fail('an in-memory database has nothing to back up')
  if (!existsSync(source)) fail(`database ${source}: no such file`)
  if (existsSync(file)) fail(`${file} already exists; a backup never overwrites a file`)

  let db: Database
  try {
    db = new Database(source, { readonly: true })
    db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  } catch (e) {
    return fail(`database ${source}: ${(e as Error).message}`)
  }
  try {
    // Created here, exclusively and private, before SQLite writes into it (VACUUM INTO accepts an
    // empty file): the copy holds every secret the database does.
    try {
      closeSync(openSync(file, 'wx', 0o600))
      chmodSync(file, 0o600)
    } catch (e) {
      return fail(`${file}: ${fsReason(e)}`)
    }
    try {
      db.run('VACUUM INTO ?', [file])
    } catch (e) {
      rmSync(file, { force: true })
      return fail(`copying ${source} into ${file}: ${(e as Error).message}`)
    }
  } finally {
    db.close()
  }

  const { integrity, tables } = describe(file)
  if (integrity !== 'ok') {
    rmSync(file, { force: true })
    fail(`the copy of ${source} failed its integrity check (${integrity}); nothing kept`)
  }
  const width = Math.max(...tables.map(([name]) => name.length))
  process.stdout.write(
    `wrote ${file}: ${statSync(file).size} bytes, ${tables.length} tables, integrity ok (from ${source})\n` +
      tables.map(([name, n]) => `  ${name.padEnd(width)}  ${n}\n`).join('')
  )
  return EXIT_OK
}
