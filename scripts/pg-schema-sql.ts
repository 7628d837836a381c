/**
 * Prints the PostgreSQL DDL of the tables in `src/db/schema-pg.ts` (run with `bun`), in the form
 * of the files under `src/db/migrations-pg/`: how `0000_init.sql` was written, and a starting
 * point for later migrations (an applied migration is never edited: new ones only add).
 * drizzle-kit is deliberately not a dependency; this covers what `schema-def.ts` can express.
 */
import { getTableConfig, PgDialect, type PgColumn } from 'drizzle-orm/pg-core'
import { tablesInForeignKeyOrder } from '../src/db/schema-build.ts'
import * as schemaPg from '../src/db/schema-pg.ts'

const q = (name: string): string => `"${name}"`
const literal = (v: unknown): string =>
  typeof v === 'string' ? `'${v.replaceAll("'", "''")}'` : String(v)
const dialect = new PgDialect()

function columnSql(c: PgColumn): string {
  let s = `\t${q(c.name)} ${c.getSQLType()}`
  if (c.primary) s += ' PRIMARY KEY'
  if (c.default !== undefined) s += ` DEFAULT ${literal(c.default)}`
  if (c.notNull) s += ' NOT NULL'
  const values = c.enumValues
  if (values && values.length > 0) {
    const list = values.map(literal).join(',')
    s += c.notNull
      ? ` CHECK (${q(c.name)} IN (${list}))`
      : ` CHECK (${q(c.name)} IS NULL OR ${q(c.name)} IN (${list}))`
  }
  return s
}

const statements: string[] = []
for (const key of tablesInForeignKeyOrder()) {
  const cfg = getTableConfig(schemaPg[key])
  const lines = cfg.columns.map(columnSql)
  for (const pk of cfg.primaryKeys)
    lines.push(
      `\tCONSTRAINT ${q(pk.getName())} PRIMARY KEY(${pk.columns.map((c) => q(c.name)).join(',')})`
    )
  for (const fk of cfg.foreignKeys) {
    const r = fk.reference()
    lines.push(
      `\tCONSTRAINT ${q(fk.getName())} FOREIGN KEY (${r.columns.map((c) => q(c.name)).join(',')}) REFERENCES ${q(getTableConfig(r.foreignTable).name)}(${r.foreignColumns.map((c) => q(c.name)).join(',')}) ON DELETE ${fk.onDelete ?? 'no action'}`
    )
  }
  statements.push(`CREATE TABLE ${q(cfg.name)} (\n${lines.join(',\n')}\n);`)
  for (const ix of cfg.indexes) {
    const cols = ix.config.columns.map((c) => q((c as PgColumn).name)).join(',')
    const where = ix.config.where ? ` WHERE ${dialect.sqlToQuery(ix.config.where).sql}` : ''
    statements.push(
      `CREATE ${ix.config.unique ? 'UNIQUE ' : ''}INDEX ${q(ix.config.name ?? '')} ON ${q(cfg.name)} (${cols})${where};`
    )
  }
}
process.stdout.write(`${statements.join('\n--> statement-breakpoint\n')}\n`)
