/**
 * Deterministic JSON text of plain values: object keys sorted, arrays kept in order.
 * Used to give structured values (selectors) a stable identity key; it is not RFC 8785 and
 * never feeds a signature.
 */

/** The JSON text of `value` with object keys sorted at every depth. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(obj[k])}`).join(',')}}`
}
