/**
 * The control plane's PostgreSQL tables, built from the one neutral description in
 * `schema-def.ts` under the same export, table and column names as the SQLite ones in
 * `schema.ts`. The PostgreSQL migrations (`migrations-pg/`) create exactly these, and a test
 * compares them with the SQLite migrations (`schema-agree.test.ts`).
 * Invariants: integer values that may exceed 2^31 (event-log seqs, milliseconds) are `bigint`
 * read as JavaScript numbers (they stay below 2^53); `seq` is assigned by the writer, never by a
 * sequence, so a leader's numbering is the only one (docs/control-plane.md, replicas).
 */
import {
  sql,
  type BuildColumns,
  type HasDefault,
  type IsPrimaryKey,
  type NotNull,
} from 'drizzle-orm'
import {
  bigint,
  bigserial,
  boolean,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
  type AnyPgColumn,
  type PgBigInt53BuilderInitial,
  type PgBigSerial53BuilderInitial,
  type PgBooleanBuilderInitial,
  type PgColumnBuilderBase,
  type PgCustomColumnBuilder,
  type PgIntegerBuilderInitial,
  type PgTable,
  type PgTableExtraConfigValue,
  type PgTableWithColumns,
  type PgTextBuilderInitial,
} from 'drizzle-orm/pg-core'
import type { ConvertCustomConfig } from 'drizzle-orm/pg-core/columns/custom'
import {
  buildTables,
  constrain,
  defaultOf,
  type Constrained,
  type Dialect,
  type EnumOf,
  type Resolve,
} from './schema-build.ts'
import { TABLES, type ColumnDef, type TableDef, type Tables } from './schema-def.ts'

export { EVENT_KINDS } from './schema-def.ts'

type ByteaTypes = { data: Buffer; driverData: Buffer }

/** `bytea` as a Buffer, like the SQLite blobs in buffer mode. */
const bytea = customType<ByteaTypes>({
  dataType: () => 'bytea',
  // The client hands back a Buffer already; copying a plain Uint8Array keeps the type honest.
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v)),
})

/** The builder type a column's definition yields, as the chained pg-core calls type it. */
type PgColumn<C extends ColumnDef> = C['type'] extends 'seq'
  ? IsPrimaryKey<NotNull<PgBigInt53BuilderInitial<C['name']>>>
  : C['type'] extends 'serial'
    ? IsPrimaryKey<NotNull<PgBigSerial53BuilderInitial<C['name']>>>
    : Constrained<
        C['type'] extends 'text'
          ? PgTextBuilderInitial<C['name'], EnumOf<C>>
          : C['type'] extends 'int'
            ? PgIntegerBuilderInitial<C['name']>
            : C['type'] extends 'boolean'
              ? PgBooleanBuilderInitial<C['name']>
              : C['type'] extends 'bytes'
                ? PgCustomColumnBuilder<ConvertCustomConfig<C['name'], ByteaTypes>>
                : PgBigInt53BuilderInitial<C['name']>,
        C
      >

type PgTableOf<T extends TableDef> = PgTableWithColumns<{
  name: T['name']
  schema: undefined
  columns: BuildColumns<
    T['name'],
    { -readonly [K in keyof T['columns']]: PgColumn<T['columns'][K]> },
    'pg'
  >
  dialect: 'pg'
}>

function column(c: ColumnDef, resolve: Resolve<AnyPgColumn>): PgColumnBuilderBase {
  switch (c.type) {
    case 'seq':
      return bigint(c.name, { mode: 'number' }).primaryKey()
    case 'serial':
      return bigserial(c.name, { mode: 'number' }).primaryKey()
    case 'text':
      return constrain<string, AnyPgColumn, PgColumnBuilderBase>(
        c.enum ? text(c.name, { enum: c.enum }) : text(c.name),
        c,
        defaultOf(c, 'string'),
        resolve
      )
    case 'int':
      return constrain(integer(c.name), c, defaultOf(c, 'number'), resolve)
    case 'boolean':
      return constrain(boolean(c.name), c, defaultOf(c, 'boolean'), resolve)
    case 'bytes':
      return constrain<Buffer, AnyPgColumn, PgColumnBuilderBase>(
        bytea(c.name),
        c,
        undefined,
        resolve
      )
    case 'bigint':
      return constrain(bigint(c.name, { mode: 'number' }), c, defaultOf(c, 'number'), resolve)
  }
}

const pgDialect: Dialect<PgTable, AnyPgColumn, PgColumnBuilderBase, PgTableExtraConfigValue> = {
  column,
  table: (name, columns, extra) => pgTable(name, columns, extra),
  primaryKey: (columns) => primaryKey({ columns }),
  index(def, columns, unique) {
    const ix = (unique ? uniqueIndex : index)(def.name).on(...columns)
    return def.where === undefined ? ix : ix.where(sql.raw(def.where))
  },
}

// The one cast between the runtime construction and the types derived from the definitions.
const tables = buildTables(pgDialect) as unknown as { [K in keyof Tables]: PgTableOf<Tables[K]> }

export const eventLog = tables.eventLog
export const hostRolloutRecords = tables.hostRolloutRecords
export const rollouts = tables.rollouts
export const hostSkips = tables.hostSkips
export const denials = tables.denials
export const quarantinedClosures = tables.quarantinedClosures
export const dispatchQueue = tables.dispatchQueue
export const probeFailures = tables.probeFailures
export const tokenReplay = tables.tokenReplay
export const certRevocations = tables.certRevocations
export const highWaterMarks = tables.highWaterMarks
export const adoptedArtifacts = tables.adoptedArtifacts
export const operatorActions = tables.operatorActions
export const hostRecords = tables.hostRecords
