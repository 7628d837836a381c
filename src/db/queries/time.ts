/**
 * Timestamp columns: epoch milliseconds in the program, RFC 3339 UTC text (`toRfc3339`,
 * millisecond precision, always 24 chars for years 1000–9999) in the database, so text order is
 * time order.
 */
import { parseRfc3339Ms, toRfc3339 } from '../../proto/common.ts'

/** The column text of an optional time. */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : toRfc3339(ms)
}

/** The epoch ms of a time column (NaN never leaves: the column was written by `toRfc3339`). */
export function msOf(text: string): number {
  const ms = parseRfc3339Ms(text)
  if (Number.isNaN(ms)) throw new Error(`corrupt timestamp column: ${text.slice(0, 40)}`)
  return ms
}

/** The epoch ms of an optional time column. */
export function msOrNull(text: string | null): number | null {
  return text === null ? null : msOf(text)
}
