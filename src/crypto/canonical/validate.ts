/**
 * The strict half of parsing: one pass over JSON text that accepts RFC 8259 minus what RFC 8785
 * cannot canonicalize, so that the native JSON.parse can then build the value.
 *
 * Invariants:
 * - It refuses what RFC 8259 forbids (leading zeros, NaN/Infinity, trailing commas, raw control
 *   characters, trailing data, ...), a leading BOM, nesting deeper than MAX_DEPTH, and what
 *   JSON.parse would let through silently: duplicate keys (compared after unescaping; JSON.parse
 *   keeps the last), lone surrogates raw or escaped, and numbers beyond the double range
 *   (JSON.parse reads ±Infinity). So whatever it accepts, JSON.parse reads without surprises.
 * - The first problem in reading order is thrown as a JsonSyntaxError at a UTF-16 offset.
 * - It reads text, not bytes: byte input is decoded strictly (utf8.ts) before it gets here.
 */
import { JsonSyntaxError, MAX_DEPTH, MAX_SNIPPET } from './types.ts'

// The text being checked and the read position. Checking is synchronous and non-reentrant.
let src = ''
let pos = 0
// The keys of the open objects, innermost last. Objects of up to SMALL_OBJECT keys are checked
// for duplicates by a linear search here, which costs much less than a Set per object.
const openKeys: string[] = []
const SMALL_OBJECT = 16

/** Throws a JsonSyntaxError for the first problem in `text`; returns if it is strict JSON. */
export function validateJson(text: string): void {
  src = text
  pos = 0
  try {
    if (text.charCodeAt(0) === 0xfeff) fail(0, 'byte order mark (U+FEFF) is not allowed')
    value(0)
    skipWs()
    if (pos < src.length) fail(pos, 'trailing data after JSON value')
  } finally {
    src = '' // do not keep a large document alive
    openKeys.length = 0
  }
}

function fail(at: number, problem: string): never {
  throw new JsonSyntaxError(at, problem)
}

/** Fails with `what`, or with "unexpected end of input" when the input ran out first. */
function failExpected(at: number, what: string): never {
  return fail(at, at >= src.length ? 'unexpected end of input' : what)
}

function hex4(code: number): string {
  return code.toString(16).padStart(4, '0')
}

function snippet(s: string): string {
  return JSON.stringify(s.length > MAX_SNIPPET ? s.slice(0, MAX_SNIPPET) + '…' : s)
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

// Past the end charCodeAt is NaN, which fails every comparison, so loops stop there unguarded.
function skipWs(): void {
  let c = src.charCodeAt(pos)
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = src.charCodeAt(++pos)
}

/** Checks the value at pos (after whitespace) inside `depth` open containers. */
function value(depth: number): void {
  skipWs()
  const c = src.charCodeAt(pos)
  if (c === 0x22) string()
  else if (c === 0x7b) object(depth + 1)
  else if (c === 0x5b) array(depth + 1)
  else if (c === 0x2d || isDigit(c)) number()
  else if (src.startsWith('true', pos)) pos += 4
  else if (src.startsWith('false', pos)) pos += 5
  else if (src.startsWith('null', pos)) pos += 4
  else if (src.startsWith('NaN', pos)) fail(pos, 'NaN is not valid JSON')
  else if (src.startsWith('Infinity', pos)) fail(pos, 'Infinity is not valid JSON')
  else fail(pos, unexpected(pos))
}

function unexpected(at: number): string {
  if (at >= src.length) return 'unexpected end of input'
  const cp = src.codePointAt(at)!
  if (cp >= 0xd800 && cp <= 0xdfff) return `unexpected lone surrogate \\u${hex4(cp)}`
  if (cp >= 0x20 && cp < 0x7f) return `unexpected character ${JSON.stringify(src[at])}`
  return `unexpected character U+${hex4(cp).toUpperCase()}`
}

function object(depth: number): void {
  if (enter(depth, 0x7d)) return
  const base = openKeys.length
  let large: Set<string> | null = null
  do {
    const at = pos
    if (src.charCodeAt(at) !== 0x22) failExpected(at, 'expected string key in object')
    const escaped = string()
    // Keys are compared as JSON.parse will see them: `"a"` and `"\u0061"` are the same key.
    const key = escaped ? (JSON.parse(src.slice(at, pos)) as string) : src.slice(at + 1, pos - 1)
    if (large === null) {
      for (let i = base; i < openKeys.length; i++) if (openKeys[i] === key) duplicate(at, key)
      openKeys.push(key)
      if (openKeys.length - base > SMALL_OBJECT) large = new Set(openKeys.splice(base))
    } else {
      if (large.has(key)) duplicate(at, key)
      large.add(key)
    }
    skipWs()
    if (src.charCodeAt(pos) !== 0x3a) failExpected(pos, "expected ':' after object key")
    pos++
    value(depth)
  } while (!next(0x7d, 'object'))
  openKeys.length = base
}

function duplicate(at: number, key: string): never {
  return fail(at, `duplicate key ${snippet(key)}`)
}

function array(depth: number): void {
  if (enter(depth, 0x5d)) return
  do value(depth)
  while (!next(0x5d, 'array'))
}

/** Steps into the container opening at pos; returns true if it is empty and so already left. */
function enter(depth: number, close: number): boolean {
  if (depth > MAX_DEPTH) fail(pos, `nesting deeper than ${MAX_DEPTH} levels`)
  pos++
  skipWs()
  if (src.charCodeAt(pos) !== close) return false
  pos++
  return true
}

/** After a member: returns true past the closing bracket, false past a comma. */
function next(close: number, kind: string): boolean {
  skipWs()
  const c = src.charCodeAt(pos)
  if (c !== close && c !== 0x2c) {
    failExpected(pos, `expected ',' or '${String.fromCharCode(close)}' in ${kind}`)
  }
  pos++
  if (c === close) return true
  skipWs()
  if (src.charCodeAt(pos) === close) fail(pos, `trailing comma in ${kind}`)
  return false
}

/** Checks the string at pos and moves past it; returns whether it holds a backslash escape. */
function string(): boolean {
  const s = src
  let p = pos + 1
  let escaped = false
  for (;;) {
    const c = s.charCodeAt(p)
    // Plain characters first: this loop is where almost all of the time goes.
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c && (c < 0xd800 || c > 0xdfff)) {
      p++
    } else if (c === 0x22) {
      break
    } else if (c === 0x5c) {
      escaped = true
      p = escape(p)
    } else if (c >= 0xd800) {
      // A raw surrogate is only valid as a high one followed by a low one.
      const next = s.charCodeAt(p + 1)
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) {
        fail(p, `lone surrogate \\u${hex4(c)} in string`)
      }
      p += 2
    } else if (p >= s.length) {
      fail(p, 'unexpected end of input in string')
    } else {
      fail(p, `unescaped control character U+${hex4(c).toUpperCase()} in string`)
    }
  }
  pos = p + 1
  return escaped
}

/** Checks the escape whose backslash is at `at`; returns the offset just after it. */
function escape(at: number): number {
  if (at + 1 >= src.length) fail(at, 'unexpected end of input in string')
  const e = src[at + 1]!
  if ('"\\/bfnrt'.includes(e)) return at + 2
  if (e !== 'u') {
    const shown = e >= ' ' && e < '\x7f' ? `"\\${e}"` : 'backslash'
    return fail(at, `invalid escape ${shown} in string`)
  }
  const u = hexAt(at + 2, at)
  if (u < 0xd800 || u > 0xdfff) return at + 6
  // An escaped surrogate is only valid as an escaped high one followed by an escaped low one.
  const lone = `lone surrogate \\u${hex4(u)} in string`
  if (u > 0xdbff || !src.startsWith('\\u', at + 6)) fail(at, lone)
  const low = hexAt(at + 8, at + 6)
  if (low < 0xdc00 || low > 0xdfff) fail(at, lone)
  return at + 12
}

/** Reads the 4 hex digits at p, for the \u escape whose backslash is at escAt. */
function hexAt(p: number, escAt: number): number {
  let u = 0
  for (let i = p; i < p + 4; i++) {
    if (i >= src.length) fail(escAt, 'unexpected end of input in string')
    const v = parseInt(src[i]!, 16)
    if (Number.isNaN(v)) fail(escAt, 'invalid \\u escape in string (expected 4 hex digits)')
    u = (u << 4) | v
  }
  return u
}

function number(): void {
  const start = pos
  let p = start
  if (src.charCodeAt(p) === 0x2d) p++
  const c = src.charCodeAt(p)
  if (c === 0x30) {
    if (isDigit(src.charCodeAt(++p))) fail(start, 'leading zero in number')
  } else if (isDigit(c)) {
    p = digits(p)
  } else if (src.startsWith('Infinity', p)) {
    fail(start, '-Infinity is not valid JSON')
  } else {
    failExpected(p, 'expected digit in number')
  }
  if (src.charCodeAt(p) === 0x2e) {
    if (!isDigit(src.charCodeAt(++p))) fail(p, 'expected digit after decimal point')
    p = digits(p)
  }
  const e = src.charCodeAt(p)
  if (e === 0x65 || e === 0x45) {
    const sign = src.charCodeAt(++p)
    if (sign === 0x2b || sign === 0x2d) p++
    if (!isDigit(src.charCodeAt(p))) fail(p, 'expected digit in exponent')
    p = digits(p)
  }
  pos = p
  // JSON.parse would turn an overflowing number into ±Infinity, which has no JSON form.
  const text = src.slice(start, p)
  if (!Number.isFinite(Number(text))) {
    fail(start, `number ${snippet(text)} is out of range for a double`)
  }
}

/** The offset of the first non-digit at or after p. */
function digits(p: number): number {
  while (isDigit(src.charCodeAt(p))) p++
  return p
}
