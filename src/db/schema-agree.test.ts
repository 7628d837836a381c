// Both migration sets, applied for real (a SQLite file, a PostgreSQL server), build the same
// schema: same tables, columns, nullability, compatible types, primary keys and indexes.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getTableConfig } from 'drizzle-orm/pg-core'
import { usePostgres } from '../../tests/support/postgres.ts'
import { openDatabase } from './client.ts'
import { applyMigrations } from './migrate.ts'
import { tablesInForeignKeyOrder } from './schema-build.ts'
import * as schemaPg from './schema-pg.ts'
import { openPostgres } from './pg/client.ts'
import { applyPgMigrations, PG_MIGRATIONS_TABLE } from './pg/migrate.ts'

type Column = { type: string; notNull: boolean }
type Table = {
  columns: Record<string, Column>
  primaryKey: string[]
  indexes: Record<string, string[]>
}
type Schema = Record<string, Table>

/** Tables only one side has by design: the migration journals and PostgreSQL's replica tables. */
const ONE_SIDED = new Set(['__drizzle_migrations', PG_MIGRATIONS_TABLE, 'cp_leader', 'cp_inputs'])

/** The SQLite type each PostgreSQL type may stand for (docs/control-plane.md, replicas). */
const COMPATIBLE: Record<string, readonly string[]> = {
  text: ['text'],
  integer: ['integer', 'bigint', 'boolean'],
  blob: ['bytea'],
}

/** Every difference between a SQLite and a PostgreSQL schema, as sentences; empty when they agree. */
function schemaDifferences(sqlite: Schema, pg: Schema): string[] {
  const out: string[] = []
  const names = (o: object) => Object.keys(o).sort()
  const only = (a: string[], b: string[]) => a.filter((x) => !b.includes(x))
  for (const t of only(names(sqlite), names(pg))) out.push(`table ${t} only on SQLite`)
  for (const t of only(names(pg), names(sqlite))) out.push(`table ${t} only on PostgreSQL`)
  for (const [name, s] of Object.entries(sqlite)) {
    const p = pg[name]
    if (!p) continue
    for (const c of only(names(s.columns), names(p.columns)))
      out.push(`${name}.${c} only on SQLite`)
    for (const c of only(names(p.columns), names(s.columns)))
      out.push(`${name}.${c} only on PostgreSQL`)
    for (const [c, sc] of Object.entries(s.columns)) {
      const pc = p.columns[c]
      if (!pc) continue
      if (sc.notNull !== pc.notNull)
        out.push(`${name}.${c} is ${sc.notNull ? '' : 'not '}NOT NULL on SQLite only`)
      if (!(COMPATIBLE[sc.type] ?? []).includes(pc.type))
        out.push(`${name}.${c} is ${sc.type} on SQLite but ${pc.type} on PostgreSQL`)
    }
    if (s.primaryKey.join(',') !== p.primaryKey.join(','))
      out.push(
        `${name}'s primary key is (${s.primaryKey}) on SQLite, (${p.primaryKey}) on PostgreSQL`
      )
    for (const i of names({ ...s.indexes, ...p.indexes })) {
      const si = s.indexes[i]?.join(',')
      const pi = p.indexes[i]?.join(',')
      if (si !== pi)
        out.push(
          `index ${name}.${i} is (${si ?? 'absent'}) on SQLite, (${pi ?? 'absent'}) on PostgreSQL`
        )
    }
  }
  return out
}

function sqliteSchema(path: string): Schema {
  const open = openDatabase(path)
  try {
    applyMigrations(open.db, open.sqlite)
    const q = <T>(s: string) => open.sqlite.query(s).all() as T[]
    const schema: Schema = {}
    const tables = q<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    for (const { name } of tables) {
      if (ONE_SIDED.has(name)) continue
      const info = q<{ name: string; type: string; notnull: number; pk: number }>(
        `PRAGMA table_info(${name})`
      )
      const indexes: Record<string, string[]> = {}
      for (const ix of q<{ name: string; origin: string }>(`PRAGMA index_list(${name})`)) {
        if (ix.origin !== 'c') continue
        indexes[ix.name] = q<{ seqno: number; name: string }>(`PRAGMA index_info(${ix.name})`)
          .sort((a, b) => a.seqno - b.seqno)
          .map((c) => c.name)
      }
      schema[name] = {
        columns: Object.fromEntries(
          info.map((c) => [
            c.name,
            { type: c.type.toLowerCase(), notNull: c.notnull === 1 || c.pk > 0 },
          ])
        ),
        primaryKey: info
          .filter((c) => c.pk > 0)
          .sort((a, b) => a.pk - b.pk)
          .map((c) => c.name),
        indexes,
      }
    }
    return schema
  } finally {
    open.close()
  }
}

async function postgresSchema(sql: Bun.SQL): Promise<Schema> {
  const columns = (await sql`
    SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
    WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`) as {
    table_name: string
    column_name: string
    data_type: string
    is_nullable: string
  }[]
  const indexes = (await sql`
    SELECT t.relname AS table_name, i.relname AS index_name, x.indisprimary AS is_primary,
           array_agg(a.attname::text ORDER BY k.ord) AS columns
    FROM pg_index x
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema()
    CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    GROUP BY t.relname, i.relname, x.indisprimary`) as {
    table_name: string
    index_name: string
    is_primary: boolean
    columns: string[]
  }[]
  const schema: Schema = {}
  const table = (name: string): Table =>
    (schema[name] ??= { columns: {}, primaryKey: [], indexes: {} })
  for (const c of columns) {
    if (ONE_SIDED.has(c.table_name)) continue
    table(c.table_name).columns[c.column_name] = {
      type: c.data_type,
      notNull: c.is_nullable === 'NO',
    }
  }
  for (const ix of indexes) {
    if (ONE_SIDED.has(ix.table_name)) continue
    if (ix.is_primary) table(ix.table_name).primaryKey = ix.columns
    else table(ix.table_name).indexes[ix.index_name] = ix.columns
  }
  return schema
}

const pg = usePostgres()
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-agree-'))
}, 60_000)

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('the SQLite and PostgreSQL migrations', () => {
  test('build the same schema', async () => {
    const lite = sqliteSchema(join(dir, 'state.db'))
    const open = await openPostgres({ url: pg().url, passwordFile: pg().passwordFile })
    try {
      await applyPgMigrations(open.sql)
      const post = await postgresSchema(open.sql)
      expect(Object.keys(lite).length).toBe(14)
      expect(Object.keys(post).sort()).toEqual(Object.keys(lite).sort())
      expect(schemaDifferences(lite, post)).toEqual([])
      // The seq columns carry the event log's order in both: bigint on PostgreSQL.
      expect(post.event_log?.columns.seq).toEqual({ type: 'bigint', notNull: true })
      // And the PostgreSQL tables are what schema-pg.ts declares, column by column.
      for (const key of tablesInForeignKeyOrder()) {
        const cfg = getTableConfig(schemaPg[key])
        const fromSchema = Object.fromEntries(
          cfg.columns.map((c) => [
            c.name,
            { type: c.getSQLType().replace('bigserial', 'bigint'), notNull: c.notNull },
          ])
        )
        expect(post[cfg.name]?.columns).toEqual(fromSchema)
        expect(Object.keys(post[cfg.name]?.indexes ?? {}).sort()).toEqual(
          cfg.indexes.map((i) => i.config.name ?? '').sort()
        )
      }
    } finally {
      await open.close()
    }
  })
})

describe('the comparison', () => {
  const base = (): Schema => ({
    t: {
      columns: { a: { type: 'integer', notNull: true }, b: { type: 'text', notNull: false } },
      primaryKey: ['a'],
      indexes: { t_b: ['b'] },
    },
  })
  const pgBase = (): Schema => ({
    t: {
      columns: { a: { type: 'bigint', notNull: true }, b: { type: 'text', notNull: false } },
      primaryKey: ['a'],
      indexes: { t_b: ['b'] },
    },
  })

  test('agrees on equal schemas', () => {
    expect(schemaDifferences(base(), pgBase())).toEqual([])
  })

  test('finds a column that differs in type, nullability or presence', () => {
    const typed = pgBase()
    typed.t!.columns.b = { type: 'integer', notNull: false }
    expect(schemaDifferences(base(), typed)).toEqual([
      't.b is text on SQLite but integer on PostgreSQL',
    ])
    const nullable = pgBase()
    nullable.t!.columns.a = { type: 'bigint', notNull: false }
    expect(schemaDifferences(base(), nullable)).toEqual(['t.a is NOT NULL on SQLite only'])
    const missing = pgBase()
    delete missing.t!.columns.b
    expect(schemaDifferences(base(), missing)).toEqual(['t.b only on SQLite'])
  })

  test('finds differing tables, primary keys and indexes', () => {
    const other = pgBase()
    other.t!.primaryKey = ['a', 'b']
    other.t!.indexes = { t_b: ['b', 'a'], t_x: ['a'] }
    other.u = { columns: {}, primaryKey: [], indexes: {} }
    expect(schemaDifferences(base(), other)).toEqual([
      'table u only on PostgreSQL',
      "t's primary key is (a) on SQLite, (a,b) on PostgreSQL",
      'index t.t_b is (b) on SQLite, (b,a) on PostgreSQL',
      'index t.t_x is (absent) on SQLite, (a) on PostgreSQL',
    ])
  })
})
