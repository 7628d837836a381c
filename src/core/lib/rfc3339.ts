/**
 * RFC 3339 text of an epoch-milliseconds time, computed by arithmetic (core reads no clock and
 * builds no `Date`). Invariant: the result equals `Date.prototype.toISOString` for every integer
 * millisecond that method accepts (`YYYY-MM-DDTHH:mm:ss.sssZ`, six-digit signed years outside
 * 0000–9999), so messages core builds read exactly as the shell's own timestamps: proto's
 * `toRfc3339` builds a `Date`, which core may neither do nor import.
 */

const DAY_MS = 86_400_000

const pad = (n: number, width: number): string => String(n).padStart(width, '0')

/** `ms` as RFC 3339 UTC with milliseconds, e.g. `2026-01-02T03:04:05.678Z`. */
export function formatRfc3339(ms: number): string {
  const t = Math.trunc(ms)
  const days = Math.floor(t / DAY_MS)
  const inDay = t - days * DAY_MS
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm, proleptic Gregorian).
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365
  )
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  const y =
    year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`
  const h = Math.floor(inDay / 3_600_000)
  const mi = Math.floor((inDay % 3_600_000) / 60_000)
  const s = Math.floor((inDay % 60_000) / 1000)
  return `${y}-${pad(month, 2)}-${pad(day, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(inDay % 1000, 3)}Z`
}
