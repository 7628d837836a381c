/**
 * Turning the neutral table descriptions of `schema-def.ts` into one dialect's drizzle tables:
 * the types that carry each column's constraints into drizzle's builder types, the foreign-key
 * order of the tables, and `buildTables`, which `schema.ts` (SQLite) and `schema-pg.ts`
 * (PostgreSQL) call with their dialect's column and index builders.
 * Invariant: both dialects are built by this one function from the same descriptions, so they
 * differ only where a `Dialect` maps a column type differently.
 */
import type { ColumnBuilderBase, HasDefault, IsPrimaryKey, NotNull, Writable } from 'drizzle-orm'
import { TABLES, type ColumnDef, type IndexDef, type TableDef, type Tables } from './schema-def.ts'

/** The enum of a text column as drizzle's builders type it (a mutable tuple). */
export type EnumOf<C extends ColumnDef> = C extends { readonly enum: infer E }
  ? Writable<E> extends infer W extends [string, ...string[]]
    ? W
    : never
  : [string, ...string[]]

/** A builder type `B` with the constraints `C` declares, as drizzle's chained calls type it. */
export type Constrained<B extends ColumnBuilderBase, C extends ColumnDef> = C extends {
  readonly primaryKey: true
}
  ? IsPrimaryKey<NotNull<B>>
  : WithDefault<C extends { readonly notNull: true } ? NotNull<B> : B, C>

type WithDefault<B extends ColumnBuilderBase, C extends ColumnDef> = C extends {
  readonly default: string | number | boolean
}
  ? HasDefault<B>
  : B

/** The tables in foreign-key order: every table after those it references. */
export function tablesInForeignKeyOrder(): (keyof Tables)[] {
  const done: (keyof Tables)[] = []
  const keys = Object.keys(TABLES) as (keyof Tables)[]
  while (done.length < keys.length) {
    const next = keys.find(
      (k) =>
        !done.includes(k) &&
        Object.values(TABLES[k].columns as Readonly<Record<string, ColumnDef>>).every(
          (c) =>
            c.references === undefined ||
            c.references.table === k ||
            done.includes(c.references.table as keyof Tables)
        )
    )
    if (next === undefined) throw new Error('schema-def: the foreign keys form a cycle')
    done.push(next)
  }
  return done
}

/** A built table's column by key; a missing one is a bug in the definitions. */
function columnOf<T>(
  table: Readonly<Record<string, T>> | object | undefined,
  tableName: string,
  key: string
): T {
  const col = table === undefined ? undefined : (table as Readonly<Record<string, T>>)[key]
  if (col === undefined) throw new Error(`schema-def: ${tableName} has no column ${key}`)
  return col
}

/** A list the definitions guarantee non-empty (an index on no column is a bug in them). */
function nonEmpty<T>(xs: readonly T[]): [T, ...T[]] {
  const [first, ...rest] = xs
  if (first === undefined) throw new Error('schema-def: an index or key with no column')
  return [first, ...rest]
}

type JsTypes = { string: string; number: number; boolean: boolean }

/** A column's default, checked against the JavaScript type its dialect builder takes. */
export function defaultOf<K extends keyof JsTypes>(c: ColumnDef, type: K): JsTypes[K] | undefined {
  const d = c.default
  if (d === undefined) return undefined
  if (typeof d !== type) throw new Error(`schema-def: ${c.name}'s default is not a ${type}`)
  return d as JsTypes[K]
}

/** A column builder as `constrain` chains it, whose values (and so defaults) are `D`. */
export type Chainable<D, Col, Base> = Base & {
  primaryKey(): Chainable<D, Col, Base>
  notNull(): Chainable<D, Col, Base>
  default(value: D): Chainable<D, Col, Base>
  references(ref: () => Col, actions: { onDelete: 'set null' | 'cascade' }): Chainable<D, Col, Base>
}

/** Resolves a foreign key's target column (built lazily: tables may come in any order). */
export type Resolve<Col> = (table: string, column: string) => Col

/** Applies a column's declared constraints to its dialect's builder, in drizzle's usual order. */
export function constrain<D, Col, Base>(
  b: Chainable<D, Col, Base>,
  c: ColumnDef,
  dflt: D | undefined,
  resolve: Resolve<Col>
): Base {
  if (c.primaryKey) b = b.primaryKey()
  if (c.notNull) b = b.notNull()
  if (dflt !== undefined) b = b.default(dflt)
  const ref = c.references
  if (ref) b = b.references(() => resolve(ref.table, ref.column), { onDelete: ref.onDelete })
  return b
}

/** What one dialect supplies to build every table of `TABLES`. */
export type Dialect<Table, Col, ColBuilder, Extra> = {
  column(c: ColumnDef, resolve: Resolve<Col>): ColBuilder
  table(
    name: string,
    columns: Record<string, ColBuilder>,
    extra: (self: Readonly<Record<string, Col>>) => Extra[]
  ): Table
  primaryKey(columns: [Col, ...Col[]]): Extra
  index(def: IndexDef, columns: [Col, ...Col[]], unique: boolean): Extra
}

/** Builds every table of `TABLES` in one dialect, by export name. */
export function buildTables<Table extends object, Col, ColBuilder, Extra>(
  dialect: Dialect<Table, Col, ColBuilder, Extra>
): Record<string, Table> {
  const built: Record<string, Table> = {}
  const resolve: Resolve<Col> = (table, name) => columnOf<Col>(built[table], table, name)
  for (const [key, def] of Object.entries(TABLES) as [string, TableDef][]) {
    const columns: Record<string, ColBuilder> = {}
    for (const [k, c] of Object.entries(def.columns)) columns[k] = dialect.column(c, resolve)
    built[key] = dialect.table(def.name, columns, (self) => {
      const cols = (keys: readonly string[]) =>
        nonEmpty(keys.map((k) => columnOf(self, def.name, k)))
      const extra: Extra[] = []
      if (def.primaryKey) extra.push(dialect.primaryKey(cols(def.primaryKey)))
      for (const i of def.indexes ?? []) extra.push(dialect.index(i, cols(i.columns), false))
      for (const u of def.unique ?? []) extra.push(dialect.index(u, cols(u.columns), true))
      return extra
    })
  }
  return built
}
