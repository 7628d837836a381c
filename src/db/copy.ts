/**
 * `nixfleet cp migrate`: the offline copy of a control plane's SQLite database into an empty
 * PostgreSQL one (docs/control-plane.md, replicas), so a fleet moves to replicas without losing its history.
 * Invariants: the source is only read (opened read-only, inside one read transaction, so the
 * copy is one consistent snapshot); the target receives everything in ONE transaction, so a
 * failed copy leaves it as empty as it was; a target that already holds NixFleet rows is
 * refused, never merged into; the counts are checked again after the commit.
 */
import { existsSync } from 'node:fs'
import { Database } from 'bun:sqlite'
import { MIGRATION_JOURNAL } from './migrate.ts'
import { describePostgresUrl, openPostgres, type PostgresTarget } from './pg/client.ts'
import { applyPgMigrations } from './pg/migrate.ts'
import { tablesInForeignKeyOrder } from './schema-build.ts'
import { TABLES, type ColumnDef } from './schema-def.ts'

/** The rows copied into one table. */
export type CopiedTable = { readonly table: string; readonly rows: number }

// Rows per INSERT: far below PostgreSQL's 65,535 parameters for the widest table (25 columns).
const BATCH = 500

type Row = Record<string, unknown>

// Every table, parents before the tables that reference them.
const TABLE_DEFS = tablesInForeignKeyOrder().map((key) => {
  const def = TABLES[key]
  return { name: def.name, columns: Object.values(def.columns) as ColumnDef[] }
})

/** Opens the source read-only and checks that it is a current NixFleet database. */
function openSource(path: string): Database {
  if (!existsSync(path)) throw new Error(`the SQLite database ${path} does not exist`)
  let db: Database | undefined
  try {
    db = new Database(path, { readonly: true, strict: true })
    const present = new Set(
      (
        db.query("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
      ).map((r) => r.name)
    )
    const missing = TABLE_DEFS.find((t) => !present.has(t.name))
    if (missing !== undefined || !present.has('__drizzle_migrations'))
      throw new Error(
        `${path} is not a NixFleet database (it has no ${missing?.name ?? '__drizzle_migrations'} table)`
      )
    const applied = db.query('SELECT count(*) AS n FROM __drizzle_migrations').get() as {
      n: number
    }
    if (applied.n < MIGRATION_JOURNAL.entries.length)
      throw new Error(
        `${path} is from an older NixFleet: start this version's control plane on it once (it migrates the database), stop it, then copy`
      )
    return db
  } catch (e) {
    db?.close()
    if (e instanceof Error && /not a database|file is encrypted/i.test(e.message))
      throw new Error(`${path} is not a NixFleet database (not an SQLite file)`)
    throw e
  }
}

/** A source row as PostgreSQL takes it: booleans from SQLite's 0/1. */
function convert(row: Row, booleans: readonly string[]): Row {
  for (const b of booleans) if (row[b] !== null && row[b] !== undefined) row[b] = row[b] === 1
  return row
}

/**
 * Copies every NixFleet table of the SQLite database at `from` into the PostgreSQL database
 * `to` (migrated first), in foreign-key order, in one transaction; moves the sequences past the
 * copied ids. Returns the rows copied per table, in copy order.
 */
export async function copySqliteToPostgres(
  from: string,
  to: PostgresTarget
): Promise<CopiedTable[]> {
  const source = openSource(from)
  const where = describePostgresUrl(to.url)
  try {
    const target = await openPostgres(to)
    try {
      await applyPgMigrations(target.sql)
      // One read transaction: the counts and the rows are the same snapshot.
      source.run('BEGIN')
      const copied = await target.sql.begin(async (tx) => {
        const done: CopiedTable[] = []
        for (const t of TABLE_DEFS) {
          const [held] = (await tx`SELECT EXISTS (SELECT 1 FROM ${tx(t.name)}) AS any`) as {
            any: boolean
          }[]
          if (held?.any)
            throw new Error(
              `the PostgreSQL database ${where} already holds NixFleet rows (in ${t.name}): copy only into an empty database`
            )
        }
        for (const t of TABLE_DEFS) {
          const booleans = t.columns.filter((c) => c.type === 'boolean').map((c) => c.name)
          let batch: Row[] = []
          let rows = 0
          const flush = async () => {
            if (batch.length === 0) return
            await tx`INSERT INTO ${tx(t.name)} ${tx(batch)}`
            rows += batch.length
            batch = []
          }
          for (const row of source
            .query(`SELECT * FROM "${t.name}"`)
            .iterate() as IterableIterator<Row>) {
            batch.push(convert(row, booleans))
            if (batch.length >= BATCH) await flush()
          }
          await flush()
          for (const c of t.columns.filter((c) => c.type === 'serial'))
            await tx.unsafe(
              `SELECT setval(pg_get_serial_sequence('${t.name}', '${c.name}'), COALESCE((SELECT max("${c.name}") FROM "${t.name}"), 0) + 1, false)`
            )
          done.push({ table: t.name, rows })
        }
        return done
      })
      for (const t of copied) {
        const expected = (
          source.query(`SELECT count(*) AS n FROM "${t.table}"`).get() as { n: number }
        ).n
        const [got] = (await target.sql`SELECT count(*)::int AS n FROM ${target.sql(t.table)}`) as {
          n: number
        }[]
        if (t.rows !== expected || got?.n !== expected)
          throw new Error(
            `the copy of ${t.table} does not add up: ${expected} rows in ${from}, ${got?.n ?? 0} in ${where}`
          )
      }
      return copied
    } finally {
      await target.close()
    }
  } finally {
    if (source.inTransaction) source.run('COMMIT')
    source.close()
  }
}
