/**
 * One SQL statement as data (text with `$n` placeholders, and its parameters), so a write can be
 * built now and run later: the leader's PostgreSQL write buffer collects a transaction's writes
 * as statements and sends them in order inside `BEGIN … COMMIT` (docs/control-plane.md, replicas).
 * Invariant: `text` never interpolates a value; every value travels in `params`.
 */
import type { SQL } from 'bun'

/** A statement and its parameters. */
export type SqlStatement = { readonly text: string; readonly params: readonly unknown[] }

/** Runs `s` on `sql` (a pool, a reserved connection or a transaction) and returns its rows. */
export async function runStatement(sql: SQL, s: SqlStatement): Promise<Record<string, unknown>[]> {
  const rows: unknown = await sql.unsafe(s.text, [...s.params])
  return Array.isArray(rows) ? rows : []
}
