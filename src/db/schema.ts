/**
 * The control plane's SQLite tables, built from the one neutral description in `schema-def.ts`
 * (read that file for every table, column and index). The SQLite migrations
 * (`migrations/*.sql`) create exactly these; a test compares the two column by column.
 * Invariant: the exports, their names and their drizzle types are what the query modules
 * (`src/db/queries`) were written against; only the way they are built lives here.
 */
import { sql, type BuildColumns } from 'drizzle-orm'
import {
  blob,
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
  type AnySQLiteColumn,
  type SQLiteBlobBufferBuilderInitial,
  type SQLiteBooleanBuilderInitial,
  type SQLiteColumnBuilderBase,
  type SQLiteIntegerBuilderInitial,
  type SQLiteTable,
  type SQLiteTableExtraConfigValue,
  type SQLiteTableWithColumns,
  type SQLiteTextBuilderInitial,
} from 'drizzle-orm/sqlite-core'
import type { HasDefault, IsPrimaryKey, NotNull } from 'drizzle-orm'
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

/** The builder type a column's definition yields, as the chained sqlite-core calls type it. */
type SqliteColumn<C extends ColumnDef> = C['type'] extends 'seq' | 'serial'
  ? IsPrimaryKey<HasDefault<NotNull<SQLiteIntegerBuilderInitial<C['name']>>>>
  : Constrained<
      C['type'] extends 'text'
        ? SQLiteTextBuilderInitial<C['name'], EnumOf<C>, number | undefined>
        : C['type'] extends 'boolean'
          ? SQLiteBooleanBuilderInitial<C['name']>
          : C['type'] extends 'bytes'
            ? SQLiteBlobBufferBuilderInitial<C['name']>
            : SQLiteIntegerBuilderInitial<C['name']>,
      C
    >

type SqliteTableOf<T extends TableDef> = SQLiteTableWithColumns<{
  name: T['name']
  schema: undefined
  columns: BuildColumns<
    T['name'],
    { -readonly [K in keyof T['columns']]: SqliteColumn<T['columns'][K]> },
    'sqlite'
  >
  dialect: 'sqlite'
}>

function column(c: ColumnDef, resolve: Resolve<AnySQLiteColumn>): SQLiteColumnBuilderBase {
  switch (c.type) {
    case 'seq':
    case 'serial':
      return integer(c.name).primaryKey({ autoIncrement: true })
    case 'text':
      return constrain<string, AnySQLiteColumn, SQLiteColumnBuilderBase>(
        c.enum ? text(c.name, { enum: c.enum }) : text(c.name),
        c,
        defaultOf(c, 'string'),
        resolve
      )
    case 'boolean':
      return constrain(integer(c.name, { mode: 'boolean' }), c, defaultOf(c, 'boolean'), resolve)
    case 'bytes':
      return constrain<Buffer, AnySQLiteColumn, SQLiteColumnBuilderBase>(
        blob(c.name, { mode: 'buffer' }),
        c,
        undefined,
        resolve
      )
    default:
      return constrain(integer(c.name), c, defaultOf(c, 'number'), resolve)
  }
}

const sqliteDialect: Dialect<
  SQLiteTable,
  AnySQLiteColumn,
  SQLiteColumnBuilderBase,
  SQLiteTableExtraConfigValue
> = {
  column,
  table: (name, columns, extra) => sqliteTable(name, columns, extra),
  primaryKey: (columns) => primaryKey({ columns }),
  index(def, columns, unique) {
    const ix = (unique ? uniqueIndex : index)(def.name).on(...columns)
    return def.where === undefined ? ix : ix.where(sql.raw(def.where))
  },
}

// The one cast between the runtime construction and the types derived from the definitions;
// the query modules' type checks and the schema tests hold the two together.
const tables = buildTables(sqliteDialect) as unknown as {
  [K in keyof Tables]: SqliteTableOf<Tables[K]>
}

/** The canonical, append-only event log. */
export const eventLog = tables.eventLog
/** The CP mirror of every (rollout, host) record (`HostRolloutState`). */
export const hostRolloutRecords = tables.hostRolloutRecords
/** The rollout lifecycle view (`RolloutRecord`). */
export const rollouts = tables.rollouts
/** NixFleet: the hosts an operator skipped in a rollout. */
export const hostSkips = tables.hostSkips
/** NixFleet: the operator's emergency denials of a host or an operator certificate. */
export const denials = tables.denials
/** The closures quarantined per channel. */
export const quarantinedClosures = tables.quarantinedClosures
/** The outbound dispatch queue. */
export const dispatchQueue = tables.dispatchQueue
/** The failing enforce-probe results per rollout and host. */
export const probeFailures = tables.probeFailures
/** The bootstrap-token nonces already used. */
export const tokenReplay = tables.tokenReplay
/** The signed certificate revocations. */
export const certRevocations = tables.certRevocations
/** NixFleet: the anti-rollback high-water marks. */
export const highWaterMarks = tables.highWaterMarks
/** NixFleet: the bytes of each adopted signed artifact. */
export const adoptedArtifacts = tables.adoptedArtifacts
/** NixFleet: the operator actions. */
export const operatorActions = tables.operatorActions
/** NixFleet: what the CP knows of each host beyond its rollouts. */
export const hostRecords = tables.hostRecords
