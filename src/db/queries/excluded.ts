/**
 * The `set` of a whole-row upsert, in both dialects: every column but the conflict keys takes the
 * proposed row's value (`excluded.<column>`). Built from the table's own columns, so a column
 * added to the table is replaced too.
 */
import { getTableColumns, sql, type SQL, type Table } from 'drizzle-orm'

/** `{ property: excluded.column }` for every column of `table` but `keys` (property names). */
export function replaceFromExcluded(table: Table, keys: readonly string[]): Record<string, SQL> {
  return Object.fromEntries(
    Object.entries(getTableColumns(table))
      .filter(([k]) => !keys.includes(k))
      .map(([k, c]) => [k, sql.raw(`excluded.${c.name}`)])
  )
}
