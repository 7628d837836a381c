/**
 * A whole-row upsert whose SQL text is built once per table: the hot writes of the leader (a
 * host's record on every heartbeat that moves its last-seen, a rollout record per dispatch and
 * event) cost drizzle's query builder ~100 µs each to render, more than everything else the
 * heartbeat does. The statement is the one drizzle renders for
 * `insert(table).values(row).onConflictDoUpdate({ target: keys, set: every other column })`.
 * Invariants: every value travels as a parameter, encoded by its column (`mapToDriverValue`) as
 * drizzle encodes it; a row missing a column (which drizzle would fill with its default) is
 * rendered by drizzle itself.
 */
import { getTableColumns, getTableName } from 'drizzle-orm'
import type { PgTable } from 'drizzle-orm/pg-core'
import type { Renderable } from './write.ts'

const quote = (name: string): string => `"${name.replaceAll('"', '""')}"`

/**
 * The upsert of `table` on its columns `keys` (property names): a function from a full row to
 * the statement, or to `slow(row)` (drizzle's own rendering) when the row lacks a column.
 */
export function wholeRowUpsert<R extends Record<string, unknown>>(
  table: PgTable,
  keys: readonly string[],
  slow: (row: R) => Renderable
): (row: R) => Renderable {
  const columns = Object.entries(getTableColumns(table))
  for (const k of keys)
    if (!columns.some(([p]) => p === k)) throw new Error(`${getTableName(table)} has no ${k}`)
  const name = (p: string): string => quote(columns.find(([q]) => q === p)![1].name)
  const text =
    `insert into ${quote(getTableName(table))} (${columns.map(([, c]) => quote(c.name)).join(', ')}) ` +
    `values (${columns.map((_, i) => `$${i + 1}`).join(', ')}) ` +
    `on conflict (${keys.map(name).join(', ')}) do update set ` +
    columns
      .filter(([p]) => !keys.includes(p))
      .map(([, c]) => `${quote(c.name)} = excluded.${quote(c.name)}`)
      .join(', ')
  return (row) => {
    const params: unknown[] = []
    for (const [p, c] of columns) {
      const v = row[p]
      if (v === undefined) return slow(row)
      params.push(v === null ? null : c.mapToDriverValue(v))
    }
    return { toSQL: () => ({ sql: text, params }) }
  }
}
