/**
 * The RFC 8785 serializer for in-memory values: keys sorted by UTF-16 code units (§3.2.3),
 * numbers in ECMAScript Number-to-String form (§3.2.2.3, -0 becomes 0) and strings with only
 * `"`, `\` and U+0000..U+001F escaped (§3.2.2.2).
 *
 * Invariant: it refuses, with a TypeError naming the path, every value that has no JSON form
 * (non-finite numbers, lone surrogates, undefined/functions/symbols/bigints, class instances,
 * nesting deeper than MAX_DEPTH, which is how a cycle shows), so its output is always JSON that
 * parses back to the same data.
 */
import { type JsonValue, MAX_DEPTH, MAX_SNIPPET } from './types.ts'

// In unicode mode a surrogate class only matches code units that are not part of a valid pair.
const LONE_SURROGATE = /[\ud800-\udfff]/u
// What a string must lack to be quoted as it is: `"`, `\`, controls and any surrogate.
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/

// Path of the value being serialized, kept as segments so it is only formatted for an error.
const pathStack: (string | number)[] = []

/**
 * Serializes an in-memory JSON value in RFC 8785 form. Throws TypeError for what JSON cannot
 * carry: non-finite numbers, lone surrogates, undefined/functions/symbols/bigints, class instances.
 */
export function canonicalizeValue(value: JsonValue): string {
  pathStack.length = 0
  try {
    return emit(value)
  } finally {
    pathStack.length = 0
  }
}

function notJson(problem: string): never {
  let path = ''
  for (const seg of pathStack) {
    path += typeof seg === 'number' ? `[${seg}]` : `.${seg.slice(0, MAX_SNIPPET)}`
  }
  throw new TypeError(`cannot canonicalize: ${problem} at ${path === '' ? 'the root' : path}`)
}

function quote(s: string, what: string): string {
  if (!NEEDS_CARE.test(s)) return '"' + s + '"'
  if (LONE_SURROGATE.test(s)) notJson(`lone surrogate in ${what}`)
  // For well-formed strings JSON.stringify escapes exactly the §3.2.2.2 set, with the short
  // forms \b \f \n \r \t and lowercase \u00xx for the other control characters.
  return JSON.stringify(s)
}

// Strings are built by concatenation, which the engine does without copying (ropes).
function emit(v: unknown): string {
  if (typeof v === 'string') return quote(v, 'string')
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) notJson(`non-finite number ${v}`)
    // Number-to-String is exactly the §3.2.2.3 algorithm, and prints -0 as "0".
    return String(v)
  }
  if (v === null) return 'null'
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (typeof v !== 'object') return notJson(`${typeof v} is not a JSON value`)
  const level = pathStack.length
  if (level >= MAX_DEPTH) notJson(`nesting deeper than ${MAX_DEPTH} levels (cycle?)`)
  let out: string
  if (Array.isArray(v)) {
    out = '['
    for (let i = 0; i < v.length; i++) {
      pathStack[level] = i
      out += (i > 0 ? ',' : '') + emit(v[i])
    }
    out += ']'
  } else {
    const proto: unknown = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) {
      notJson(`${(v as object).constructor?.name ?? 'object'} instance is not a JSON value`)
    }
    // The default sort compares UTF-16 code units, which is what §3.2.3 specifies.
    const keys = Object.keys(v).sort()
    out = '{'
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      pathStack[level] = k
      out += (i > 0 ? ',' : '') + quote(k, 'key') + ':'
      out += emit((v as Record<string, unknown>)[k])
    }
    out += '}'
  }
  pathStack.length = level
  return out
}
