/**
 * The project's single RFC 8785 (JSON Canonicalization Scheme) implementation: a strict RFC 8259
 * parser plus the canonical serializer that signatures and digests are computed over.
 *
 * Invariants:
 * - Parsing is strict: duplicate keys (compared after unescaping), lone surrogates (raw or
 *   escaped), invalid UTF-8, leading zeros, NaN/Infinity, trailing commas, raw control
 *   characters, numbers that overflow an IEEE-754 double, a leading BOM, nesting deeper than
 *   1000 and trailing data are all rejected with a JsonSyntaxError.
 * - Parsed objects are plain objects whose keys are own data properties (`__proto__` included), so
 *   untrusted input can never change a prototype.
 * - Canonical output sorts keys by UTF-16 code units, prints numbers with ECMAScript
 *   Number-to-String (-0 becomes 0) and escapes only `"`, `\` and U+0000..U+001F.
 * - No imports beyond ./canonical/: only language built-ins, so it runs in any JS runtime.
 *
 * Design, for speed: one scan over the UTF-8 bytes validates everything and writes the canonical
 * bytes as it goes, without creating JS strings. Escape-free strings are copied byte for byte (they
 * are already canonical); numbers of up to 15 significant digits are laid out from their own
 * digits (only longer ones pay for Number() and Number-to-String); keys are compared as bytes; an
 * object whose keys arrive unsorted has its written members permuted when it closes, and
 * duplicates surface as equal neighbours. Values are then built by the native JSON.parse, which
 * is safe because the scan has already rejected everything JSON.parse would tolerate (duplicates,
 * lone surrogates, overflowing numbers), and which defines `__proto__` as an own property.
 */

import { canonicalizeValue } from './canonical/emit.ts'
import { JsonSyntaxError, type JsonValue, MAX_DEPTH, MAX_SNIPPET } from './canonical/types.ts'

export { canonicalizeValue, JsonSyntaxError, type JsonValue }

const EMPTY = new Uint8Array(0)
// Objects up to this size are reordered through slack space kept at the end of the output.
const PARK_LIMIT = 65536

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

// Scanner state lives at module level: scanning is synchronous and non-reentrant, and hot loops
// copy what they need into locals.
let inp: Uint8Array = EMPTY
let len = 0
let pos = 0
// For string input, the original text: TextEncoder turned its lone surrogates into U+FFFD, so
// each U+FFFD is checked against it. Null for byte input, where U+FFFD is genuine.
let srcText: string | null = null
// Bytes minus UTF-16 units consumed so far, so `byteOffset - delta` indexes srcText. Only string
// scanning updates it: outside strings any non-ASCII byte is an error.
let delta = 0
// Canonical output. Invariant: out.length - op >= len - pos, because every token except a number
// is at most as long canonically as in the source; number writes grow the buffer when needed.
let out: Uint8Array = EMPTY
let op = 0
// Members of the currently open objects: [memStart, memEnd) is `"key":value` in out and
// [memStart, keyEnd) the canonical key with quotes; keyAt is the key's input offset (for errors)
// and keyBs marks keys whose canonical form contains a backslash escape.
let memStart = new Int32Array(256)
let memEnd = new Int32Array(256)
let keyEnd = new Int32Array(256)
let keyAt = new Int32Array(256)
let keyBs = new Uint8Array(256)
let memTop = 0

function fail(at: number, problem: string): never {
  throw new JsonSyntaxError(at, problem)
}

/** Fails with `what`, or with "unexpected end of input" when the input ran out first. */
function failExpected(at: number, what: string): never {
  return fail(at, at >= len ? 'unexpected end of input' : what)
}

function hex4(code: number): string {
  return code.toString(16).padStart(4, '0')
}

function snippet(s: string): string {
  return JSON.stringify(s.length > MAX_SNIPPET ? s.slice(0, MAX_SNIPPET) + '…' : s)
}

function describeAt(at: number): string {
  if (at >= len) return 'unexpected end of input'
  const c = inp[at]!
  if (c < 0x80) {
    if (c < 0x20 || c === 0x7f) return `unexpected character U+${hex4(c).toUpperCase()}`
    return `unexpected character ${JSON.stringify(String.fromCharCode(c))}`
  }
  if (firstInvalidUtf8(inp.subarray(at, at + 4)) === 0) return 'invalid UTF-8 byte sequence'
  const n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4
  const cp = utf8Decoder.decode(inp.subarray(at, at + n)).codePointAt(0)!
  if (cp === 0xfffd && srcText !== null) {
    const ch = srcText.charCodeAt(at - delta)
    if (ch >= 0xd800 && ch <= 0xdfff) return `unexpected lone surrogate \\u${hex4(ch)}`
  }
  return `unexpected character U+${hex4(cp).toUpperCase()}`
}

function skipWs(): void {
  const b = inp
  let p = pos
  let c = b[p]
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++p]
  pos = p
}

function isInfinity(p: number): boolean {
  const word = 'Infinity'
  for (let i = 0; i < word.length; i++) if (inp[p + i] !== word.charCodeAt(i)) return false
  return true
}

function growMembers(): void {
  const n = memStart.length * 2
  const grow32 = (a: Int32Array): Int32Array<ArrayBuffer> => {
    const g = new Int32Array(n)
    g.set(a)
    return g
  }
  memStart = grow32(memStart)
  memEnd = grow32(memEnd)
  keyEnd = grow32(keyEnd)
  keyAt = grow32(keyAt)
  const bs = new Uint8Array(n)
  bs.set(keyBs)
  keyBs = bs
}

/** The decoded key of member i; only needed for keys with escapes and for error messages. */
function keyString(i: number): string {
  const quoted = utf8Decoder.decode(out.subarray(memStart[i]!, keyEnd[i]!))
  return keyBs[i] === 1 ? (JSON.parse(quoted) as string) : quoted.slice(1, -1)
}

function failDuplicate(i: number): never {
  return fail(keyAt[i]!, `duplicate key ${snippet(keyString(i))}`)
}

/**
 * Compares two keys by their canonical UTF-8 bytes, which equal their decoded UTF-8 when they
 * hold no backslash escape, giving UTF-16 code unit order.
 */
function compareRawKeys(x: number, y: number): number {
  const b = out
  const xs = memStart[x]! + 1
  const ys = memStart[y]! + 1
  const xl = keyEnd[x]! - 1 - xs
  const yl = keyEnd[y]! - 1 - ys
  const n = xl < yl ? xl : yl
  for (let k = 0; k < n; k++) {
    const u = b[xs + k]!
    const v = b[ys + k]!
    if (u !== v) {
      // Byte order is code point order. UTF-16 differs only where a supplementary character
      // (lead F0-F4, a D800-DBFF surrogate) meets U+E000..U+FFFF (lead EE/EF): it sorts first.
      if (u >= 0xf0 && (v === 0xee || v === 0xef)) return -1
      if (v >= 0xf0 && (u === 0xee || u === 0xef)) return 1
      return u - v
    }
  }
  return xl - yl
}

function compareKeys(x: number, y: number): number {
  if (keyBs[x] === 0 && keyBs[y] === 0) return compareRawKeys(x, y)
  const a = keyString(x)
  const b = keyString(y)
  return a < b ? -1 : a > b ? 1 : 0
}

// Scratch for sorting small objects, which are almost all of them.
const SMALL_OBJECT = 16
const smallOrder = new Int32Array(SMALL_OBJECT)
const smallPrefix = new Int32Array(SMALL_OBJECT)

/**
 * The first three bytes of a raw key as one number whose order is UTF-16 order: lead bytes
 * F0-F4 (surrogate pairs) move below EE/EF (U+E000..U+FFFF). Raw keys hold no NUL (it would be
 * escaped), so zero-padding puts a key before its extensions.
 */
function keyPrefix(i: number): number {
  const b = out
  const s = memStart[i]! + 1
  const n = keyEnd[i]! - 1 - s
  let v = 0
  for (let k = 0; k < 3; k++) {
    let c = k < n ? b[s + k]! : 0
    if (c >= 0xee) c = c >= 0xf0 ? c - 2 : c + 5
    v = (v << 8) | c
  }
  return v
}

/** Sorts the members base..top-1 of one object, rejects duplicates, rewrites them in order. */
function sortMembers(base: number, top: number): void {
  const m = top - base
  let order: Int32Array
  let anyBackslash = false
  for (let i = base; i < top; i++) if (keyBs[i] === 1) anyBackslash = true
  if (!anyBackslash && m <= SMALL_OBJECT) {
    // Insertion sort on prefixes, falling back to full comparison only on a tie.
    order = smallOrder
    const pre = smallPrefix
    for (let i = 0; i < m; i++) pre[i] = keyPrefix(base + i)
    order[0] = 0
    for (let i = 1; i < m; i++) {
      const pi = pre[i]!
      let j = i
      while (j > 0) {
        const prev = order[j - 1]!
        const pp = pre[prev]!
        if (pp < pi || (pp === pi && compareRawKeys(base + prev, base + i) <= 0)) break
        order[j] = prev
        j--
      }
      order[j] = i
    }
    for (let k = 1; k < m; k++) {
      const x = order[k - 1]!
      const y = order[k]!
      if (pre[x] === pre[y] && compareRawKeys(base + x, base + y) === 0) {
        failDuplicate(base + Math.max(x, y))
      }
    }
  } else if (!anyBackslash) {
    order = new Int32Array(m)
    for (let i = 0; i < m; i++) order[i] = i
    order.sort((x, y) => compareRawKeys(base + x, base + y))
    for (let k = 1; k < m; k++) {
      if (compareRawKeys(base + order[k - 1]!, base + order[k]!) === 0) {
        failDuplicate(base + Math.max(order[k - 1]!, order[k]!))
      }
    }
  } else {
    order = new Int32Array(m)
    const names: string[] = new Array<string>(m)
    for (let i = 0; i < m; i++) {
      names[i] = keyString(base + i)
      order[i] = i
    }
    // Plain < on strings compares UTF-16 code units, the order RFC 8785 §3.2.3 requires.
    order.sort((x, y) => (names[x]! < names[y]! ? -1 : names[x]! > names[y]! ? 1 : x - y))
    for (let k = 1; k < m; k++) {
      if (names[order[k - 1]!] === names[order[k]!]) {
        failDuplicate(base + Math.max(order[k - 1]!, order[k]!))
      }
    }
  }
  const regionStart = memStart[base]!
  const regionEnd = memEnd[top - 1]!
  const size = regionEnd - regionStart
  let o = regionStart
  if (size > PARK_LIMIT) {
    const ob = out
    // Too big to park in the slack: copy out once (this is typically the root object).
    const saved = ob.slice(regionStart, regionEnd)
    for (let k = 0; k < m; k++) {
      if (k > 0) ob[o++] = 0x2c
      const idx = base + order[k]!
      const s = memStart[idx]! - regionStart
      const e = memEnd[idx]! - regionStart
      ob.set(saved.subarray(s, e), o)
      o += e - s
    }
    return
  }
  // Park the members in the slack after op (the closing brace is not written yet, so
  // op === regionEnd), then copy them back in order; copyWithin allocates no views.
  ensureOut(size)
  const ob = out
  const park = op - regionStart
  ob.copyWithin(op, regionStart, regionEnd)
  for (let k = 0; k < m; k++) {
    if (k > 0) ob[o++] = 0x2c
    const idx = base + order[k]!
    const s = memStart[idx]! + park
    const e = memEnd[idx]! + park
    if (e - s < 64) {
      for (let q = s; q < e; q++) ob[o++] = ob[q]!
    } else {
      ob.copyWithin(o, s, e)
      o += e - s
    }
  }
}

/** Reports a byte that cannot start a value. */
function failValue(p: number): never {
  if (inp[p] === 0x4e && inp[p + 1] === 0x61 && inp[p + 2] === 0x4e && p + 2 < len) {
    fail(p, 'NaN is not valid JSON')
  }
  if (isInfinity(p)) fail(p, 'Infinity is not valid JSON')
  return fail(p, describeAt(p))
}

/**
 * Handles a string byte the inline loop does not (escape, non-ASCII, control, end of input) at
 * pos; returns whether it wrote a backslash escape.
 */
function scanStringSpecial(c: number): boolean {
  if (c === 0x5c) return scanEscape()
  if (c >= 0x80) {
    scanMultibyte(c)
    return false
  }
  if (pos >= len) fail(pos, 'unexpected end of input in string')
  return fail(pos, `unescaped control character U+${hex4(c).toUpperCase()} in string`)
}

// Per-depth state of the open containers, indexed by depth (1 = outermost).
const containerIsObject = new Uint8Array(MAX_DEPTH + 2)
const containerBase = new Int32Array(MAX_DEPTH + 2)
const containerSorted = new Uint8Array(MAX_DEPTH + 2)

/**
 * Scans one JSON value at pos and writes its canonical form at op. The hot path (structure,
 * escape-free ASCII strings, short integers, literals) is one loop over locals with an explicit
 * container stack; rarer cases sync pos/op and call helpers.
 */
function scanDocument(): void {
  const b = inp
  let ob = out
  let p = pos
  let o = op
  let d = 0
  let top = memTop
  let wantKey = false
  let c = 0
  outer: for (;;) {
    if (wantKey) {
      // p is at the key's opening quote.
      wantKey = false
      if (top === memStart.length) growMembers()
      memStart[top] = o
      keyAt[top] = p
      let backslash = false
      ob[o++] = 0x22
      p++
      for (;;) {
        c = b[p]!
        if (c >= 0x20 && c < 0x80 && c !== 0x22 && c !== 0x5c) {
          ob[o++] = c
          p++
          continue
        }
        if (c === 0x22) break
        pos = p
        op = o
        if (scanStringSpecial(c)) backslash = true
        p = pos
        o = op
      }
      ob[o++] = 0x22
      p++
      keyEnd[top] = o
      keyBs[top] = backslash ? 1 : 0
      top++
      // While keys arrive strictly increasing there can be no duplicate; after the first
      // out-of-order key, duplicates are found by the sort when the object closes.
      if (containerSorted[d] === 1 && top - 1 > containerBase[d]!) {
        const cmp = compareKeys(top - 2, top - 1)
        if (cmp === 0) failDuplicate(top - 1)
        if (cmp > 0) containerSorted[d] = 0
      }
      c = b[p]!
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++p]!
      if (c !== 0x3a) failExpected(p, "expected ':' after object key")
      ob[o++] = 0x3a
      p++
    }
    c = b[p]!
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++p]!
    if (c === 0x22) {
      ob[o++] = 0x22
      p++
      for (;;) {
        c = b[p]!
        if (c >= 0x20 && c < 0x80 && c !== 0x22 && c !== 0x5c) {
          ob[o++] = c
          p++
          continue
        }
        if (c === 0x22) break
        pos = p
        op = o
        scanStringSpecial(c)
        p = pos
        o = op
      }
      ob[o++] = 0x22
      p++
    } else if (c === 0x7b || c === 0x5b) {
      if (++d > MAX_DEPTH) fail(p, `nesting deeper than ${MAX_DEPTH} levels`)
      const close = c + 2 // '}' or ']'
      ob[o++] = c
      p++
      let n = b[p]!
      while (n === 0x20 || n === 0x0a || n === 0x0d || n === 0x09) n = b[++p]!
      if (n === close) {
        ob[o++] = n
        p++
        d--
      } else if (c === 0x5b) {
        containerIsObject[d] = 0
        continue
      } else {
        if (n !== 0x22) failExpected(p, 'expected string key in object')
        containerIsObject[d] = 1
        containerBase[d] = top
        containerSorted[d] = 1
        wantKey = true
        continue
      }
    } else if ((c >= 0x30 && c <= 0x39) || c === 0x2d) {
      // Inline fast path for integers of up to 15 characters: below 2^53, so the digits are
      // already the shortest round-trip form. Everything else (and every error) goes to
      // scanNumber from the start.
      const start = p
      let q = c === 0x2d ? p + 1 : p
      let e = b[q]!
      let plain = false
      if (e >= 0x31 && e <= 0x39) {
        do e = b[++q]!
        while (e >= 0x30 && e <= 0x39)
        plain = true
      } else if (e === 0x30 && q === p) {
        e = b[++q]!
        plain = !(e >= 0x30 && e <= 0x39)
      }
      if (plain && q - start <= 15 && e !== 0x2e && e !== 0x65 && e !== 0x45) {
        while (p < q) ob[o++] = b[p++]!
      } else {
        pos = p
        op = o
        scanNumber()
        p = pos
        o = op
        ob = out
      }
    } else if (c === 0x74 && b[p + 1] === 0x72 && b[p + 2] === 0x75 && b[p + 3] === 0x65) {
      ob[o++] = 0x74
      ob[o++] = 0x72
      ob[o++] = 0x75
      ob[o++] = 0x65
      p += 4
    } else if (
      c === 0x66 &&
      b[p + 1] === 0x61 &&
      b[p + 2] === 0x6c &&
      b[p + 3] === 0x73 &&
      b[p + 4] === 0x65
    ) {
      ob[o++] = 0x66
      ob[o++] = 0x61
      ob[o++] = 0x6c
      ob[o++] = 0x73
      ob[o++] = 0x65
      p += 5
    } else if (c === 0x6e && b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c) {
      ob[o++] = 0x6e
      ob[o++] = 0x75
      ob[o++] = 0x6c
      ob[o++] = 0x6c
      p += 4
    } else {
      failValue(p)
    }
    // A value is complete: close containers until one expects more.
    for (;;) {
      if (d === 0) break outer
      c = b[p]!
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++p]!
      if (containerIsObject[d] === 0) {
        if (c === 0x2c) {
          ob[o++] = 0x2c
          p++
          c = b[p]!
          while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++p]!
          if (c === 0x5d) fail(p, 'trailing comma in array')
          continue outer
        }
        if (c === 0x5d) {
          ob[o++] = 0x5d
          p++
          d--
          continue
        }
        failExpected(p, "expected ',' or ']' in array")
      }
      memEnd[top - 1] = o
      if (c === 0x2c) {
        ob[o++] = 0x2c
        p++
        c = b[p]!
        while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++p]!
        if (c === 0x7d) fail(p, 'trailing comma in object')
        if (c !== 0x22) failExpected(p, 'expected string key in object')
        wantKey = true
        continue outer
      }
      if (c === 0x7d) {
        const base = containerBase[d]!
        if (containerSorted[d] === 0) {
          pos = p
          op = o
          sortMembers(base, top)
          ob = out
        }
        top = base
        ob[o++] = 0x7d
        p++
        d--
        continue
      }
      failExpected(p, "expected ',' or '}' in object")
    }
  }
  pos = p
  op = o
  memTop = top
}

/** Validates and copies one multi-byte UTF-8 character (WHATWG decoder rules). */
function scanMultibyte(c: number): void {
  const b = inp
  const p = pos
  let n: number
  let lo = 0x80
  let hi = 0xbf
  if (c >= 0xc2 && c <= 0xdf) n = 2
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3
    if (c === 0xe0) lo = 0xa0
    else if (c === 0xed) hi = 0x9f // ED A0..BF would encode a surrogate
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4
    if (c === 0xf0) lo = 0x90
    else if (c === 0xf4) hi = 0x8f
  } else return fail(p, 'invalid UTF-8 byte sequence')
  const c1 = b[p + 1]!
  if (c1 < lo || c1 > hi) fail(p, 'invalid UTF-8 byte sequence')
  for (let k = 2; k < n; k++) {
    const ck = b[p + k]!
    if (ck < 0x80 || ck > 0xbf) fail(p, 'invalid UTF-8 byte sequence')
  }
  if (c === 0xef && c1 === 0xbf && b[p + 2] === 0xbd && srcText !== null) {
    const ch = srcText.charCodeAt(p - delta)
    if (ch !== 0xfffd) fail(p, `lone surrogate \\u${hex4(ch)} in string`)
  }
  const ob = out
  const o = op
  for (let k = 0; k < n; k++) ob[o + k] = b[p + k]!
  op = o + n
  pos = p + n
  delta += n === 2 ? 1 : 2 // 2 bytes -> 1 unit, 3 -> 1, 4 -> a surrogate pair
}

function hexDigit(n: number): number {
  return n < 10 ? 0x30 + n : 0x57 + n
}

/** Reads the 4 hex digits at byte offset p, for the \u escape starting at escAt. */
function readHex4(p: number, escAt: number): number {
  let u = 0
  for (let i = 0; i < 4; i++) {
    const h = inp[p + i]!
    let v: number
    if (p + i >= len) return fail(escAt, 'unexpected end of input in string')
    if (h >= 0x30 && h <= 0x39) v = h - 0x30
    else if (h >= 0x61 && h <= 0x66) v = h - 0x57
    else if (h >= 0x41 && h <= 0x46) v = h - 0x37
    else return fail(escAt, 'invalid \\u escape in string (expected 4 hex digits)')
    u = (u << 4) | v
  }
  return u
}

/**
 * Decodes the escape at pos and writes the character canonically (never longer than the escape);
 * returns whether the canonical form is itself an escape.
 */
function scanEscape(): boolean {
  const b = inp
  const escAt = pos
  let p = escAt
  let cp: number
  switch (b[p + 1]!) {
    case 0x22:
      cp = 0x22
      break
    case 0x5c:
      cp = 0x5c
      break
    case 0x2f:
      cp = 0x2f
      break
    case 0x62:
      cp = 0x08
      break
    case 0x66:
      cp = 0x0c
      break
    case 0x6e:
      cp = 0x0a
      break
    case 0x72:
      cp = 0x0d
      break
    case 0x74:
      cp = 0x09
      break
    case 0x75: {
      const u = readHex4(p + 2, escAt)
      p += 4
      if (u >= 0xd800 && u <= 0xdfff) {
        // An escaped surrogate is only valid as an escaped high + low pair.
        const lone = `lone surrogate \\u${hex4(u)} in string`
        if (u > 0xdbff || b[p + 2] !== 0x5c || b[p + 3] !== 0x75) fail(escAt, lone)
        const low = readHex4(p + 4, p + 2)
        if (low < 0xdc00 || low > 0xdfff) fail(escAt, lone)
        p += 6
        cp = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00)
      } else {
        cp = u
      }
      break
    }
    default: {
      if (p + 1 >= len) return fail(escAt, 'unexpected end of input in string')
      const e = b[p + 1]!
      const shown = e >= 0x20 && e < 0x7f ? `"\\${String.fromCharCode(e)}"` : 'backslash'
      return fail(escAt, `invalid escape ${shown} in string`)
    }
  }
  pos = p + 2
  const ob = out
  let o = op
  let backslash = false
  if (cp < 0x80) {
    if (cp >= 0x20) {
      if (cp === 0x22 || cp === 0x5c) {
        ob[o++] = 0x5c
        backslash = true
      }
      ob[o++] = cp
    } else {
      backslash = true
      ob[o++] = 0x5c
      if (cp === 0x08) ob[o++] = 0x62
      else if (cp === 0x09) ob[o++] = 0x74
      else if (cp === 0x0a) ob[o++] = 0x6e
      else if (cp === 0x0c) ob[o++] = 0x66
      else if (cp === 0x0d) ob[o++] = 0x72
      else {
        ob[o] = 0x75
        ob[o + 1] = 0x30
        ob[o + 2] = 0x30
        ob[o + 3] = hexDigit(cp >> 4)
        ob[o + 4] = hexDigit(cp & 0xf)
        o += 5
      }
    }
  } else if (cp < 0x800) {
    ob[o] = 0xc0 | (cp >> 6)
    ob[o + 1] = 0x80 | (cp & 0x3f)
    o += 2
  } else if (cp < 0x10000) {
    ob[o] = 0xe0 | (cp >> 12)
    ob[o + 1] = 0x80 | ((cp >> 6) & 0x3f)
    ob[o + 2] = 0x80 | (cp & 0x3f)
    o += 3
  } else {
    ob[o] = 0xf0 | (cp >> 18)
    ob[o + 1] = 0x80 | ((cp >> 12) & 0x3f)
    ob[o + 2] = 0x80 | ((cp >> 6) & 0x3f)
    ob[o + 3] = 0x80 | (cp & 0x3f)
    o += 4
  }
  op = o
  return backslash
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function scanNumber(): void {
  const b = inp
  const start = pos
  let p = start
  let c = b[p]!
  const negative = c === 0x2d
  if (negative) c = b[++p]!
  const intStart = p
  if (c === 0x30) {
    c = b[++p]!
    if (isDigit(c)) fail(start, 'leading zero in number')
  } else if (isDigit(c)) {
    do c = b[++p]!
    while (isDigit(c))
  } else if (c === 0x49 && isInfinity(p)) {
    fail(start, '-Infinity is not valid JSON')
  } else {
    failExpected(p, 'expected digit in number')
  }
  const intEnd = p
  let fracStart = p
  let fracEnd = p
  if (c === 0x2e) {
    c = b[++p]!
    if (!isDigit(c)) fail(p, 'expected digit after decimal point')
    fracStart = p
    do c = b[++p]!
    while (isDigit(c))
    fracEnd = p
  }
  let exp = 0
  let expDigits = 0
  if (c === 0x65 || c === 0x45) {
    c = b[++p]!
    const expNegative = c === 0x2d
    if (c === 0x2b || expNegative) c = b[++p]!
    if (!isDigit(c)) fail(p, 'expected digit in exponent')
    do {
      if (expDigits++ < 6) exp = exp * 10 + (c - 0x30)
      c = b[++p]!
    } while (isDigit(c))
    if (expNegative) exp = -exp
  }
  pos = p
  // An integer of up to 15 characters is below 2^53, so its digits are already its shortest
  // round-trip form; only -0 changes (to 0).
  if (p - start <= 15 && intEnd === p) {
    const ob = out
    let o = op
    if (negative && b[intStart] === 0x30) {
      ob[o++] = 0x30
    } else {
      for (let k = start; k < p; k++) ob[o++] = b[k]!
    }
    op = o
    return
  }
  if (expDigits <= 5 && writeShortDecimal(negative, intStart, intEnd, fracStart, fracEnd, exp)) {
    return
  }
  let text = ''
  for (let k = start; k < p; k++) text += String.fromCharCode(b[k]!)
  const n = Number(text)
  if (!Number.isFinite(n)) fail(start, `number ${snippet(text)} is out of range for a double`)
  // Number-to-String is exactly the ECMAScript algorithm RFC 8785 §3.2.2.3 requires; -0 -> "0".
  const str = String(n)
  ensureOut(str.length)
  const ob = out
  let o = op
  for (let k = 0; k < str.length; k++) ob[o++] = str.charCodeAt(k)
  op = o
}

/** Grows out so that extra bytes plus the rest of the input still fit (the out invariant). */
function ensureOut(extra: number): void {
  const need = op + extra + (len - pos)
  if (need > out.length) {
    const grown = new Uint8Array(need + (need >> 3) + 64)
    grown.set(out.subarray(0, op))
    out = grown
  }
}

/**
 * Writes the canonical form of a number with at most 15 significant digits in the normal range
 * straight from its source digits, skipping the costly Number() and Number-to-String. This is
 * exact: every such decimal maps to a distinct double (DBL_DIG = 15), so no shorter digit string
 * rounds to the same double and Number-to-String must print exactly these digits; only the
 * layout rules of ECMAScript Number::toString remain. Returns false to request the slow path.
 */
function writeShortDecimal(
  negative: boolean,
  intStart: number,
  intEnd: number,
  fracStart: number,
  fracEnd: number,
  exp: number
): boolean {
  const b = inp
  const nInt = intEnd - intStart
  const total = nInt + fracEnd - fracStart
  // Digit t of the integer and fraction digits taken as one sequence lives at at(t).
  const gap = fracStart - nInt
  let first = 0
  while (first < total && b[first < nInt ? intStart + first : gap + first] === 0x30) first++
  if (first === total) {
    out[op++] = 0x30 // zero, including -0
    return true
  }
  let last = total - 1
  while (b[last < nInt ? intStart + last : gap + last] === 0x30) last--
  const k = last - first + 1
  // n is the decimal exponent with the value written as 0.ddd x 10^n.
  const n = nInt - first + exp
  if (k > 15 || n > 290 || n < -290) return false
  ensureOut(k + 32)
  const w = out
  let o = op
  if (negative) w[o++] = 0x2d
  if (n >= k && n <= 21) {
    for (let t = first; t <= last; t++) w[o++] = b[t < nInt ? intStart + t : gap + t]!
    for (let z = k; z < n; z++) w[o++] = 0x30
  } else if (n > 0 && n <= 21) {
    for (let t = first; t <= last; t++) {
      if (t - first === n) w[o++] = 0x2e
      w[o++] = b[t < nInt ? intStart + t : gap + t]!
    }
  } else if (n <= 0 && n > -6) {
    w[o++] = 0x30
    w[o++] = 0x2e
    for (let z = n; z < 0; z++) w[o++] = 0x30
    for (let t = first; t <= last; t++) w[o++] = b[t < nInt ? intStart + t : gap + t]!
  } else {
    w[o++] = b[first < nInt ? intStart + first : gap + first]!
    if (k > 1) {
      w[o++] = 0x2e
      for (let t = first + 1; t <= last; t++) w[o++] = b[t < nInt ? intStart + t : gap + t]!
    }
    w[o++] = 0x65
    let e = n - 1
    if (e < 0) {
      w[o++] = 0x2d
      e = -e
    } else {
      w[o++] = 0x2b
    }
    const digits = String(e)
    for (let z = 0; z < digits.length; z++) w[o++] = digits.charCodeAt(z)
  }
  op = o
  return true
}

/** Validates UTF-8 JSON bytes and returns a fresh array with their canonical form. */
function scan(bytes: Uint8Array, text: string | null): Uint8Array {
  // A zero-padded copy keeps every read in bounds: bytes past the end read as 0, which no rule
  // accepts, and the JIT sees plain integers instead of number | undefined.
  len = bytes.length
  inp = new Uint8Array(len + 16)
  inp.set(bytes)
  pos = 0
  srcText = text
  delta = 0
  memTop = 0
  // The slack beyond len is where sortMembers parks objects (never bigger than the input).
  out = new Uint8Array(len + Math.min(len, PARK_LIMIT) + 64)
  op = 0
  try {
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      fail(0, 'byte order mark (U+FEFF) is not allowed')
    }
    scanDocument()
    skipWs()
    if (pos < len) fail(pos, 'trailing data after JSON value')
    return out.slice(0, op)
  } finally {
    // Drop references so a large document is not kept alive by module state.
    inp = EMPTY
    srcText = null
    out = EMPTY
  }
}

/** Converts a byte offset in the UTF-8 encoding of a string to a UTF-16 code unit offset. */
function charOffset(bytes: Uint8Array, byteOffset: number): number {
  let units = 0
  for (let i = 0; i < byteOffset && i < bytes.length; i++) {
    const b = bytes[i]!
    if (b < 0x80 || (b >= 0xc0 && b < 0xf0)) units++
    else if (b >= 0xf0) units += 2
  }
  return units
}

/** Scans string input; errors are re-reported at UTF-16 offsets into the text. */
function scanText(text: string): Uint8Array {
  const bytes = utf8Encoder.encode(text)
  try {
    return scan(bytes, text)
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e
    throw new JsonSyntaxError(charOffset(bytes, e.offset), e.problem)
  }
}

/** Parses JSON text strictly per RFC 8259 plus the extra JCS restrictions listed above. */
export function parseJson(text: string): JsonValue {
  scanText(text)
  return JSON.parse(text) as JsonValue
}

/** Returns the byte offset of the first invalid UTF-8 sequence (WHATWG decoder rules), or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length
  let i = 0
  while (i < n) {
    const b = bytes[i]!
    if (b < 0x80) {
      i++
      continue
    }
    let need: number
    let lo = 0x80
    let hi = 0xbf
    if (b >= 0xc2 && b <= 0xdf) need = 1
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2
      if (b === 0xe0) lo = 0xa0
      else if (b === 0xed) hi = 0x9f
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3
      if (b === 0xf0) lo = 0x90
      else if (b === 0xf4) hi = 0x8f
    } else return i
    for (let k = 1; k <= need; k++) {
      const cb = bytes[i + k]
      if (cb === undefined) return i
      if (k === 1 ? cb < lo || cb > hi : cb < 0x80 || cb > 0xbf) return i
    }
    i += need + 1
  }
  return -1
}

/** Decodes UTF-8 strictly: invalid sequences throw; a BOM is kept so the parser can reject it. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes)
  } catch {
    const at = firstInvalidUtf8(bytes)
    throw new JsonSyntaxError(at < 0 ? 0 : at, 'invalid UTF-8 byte sequence')
  }
}

/** Parses JSON text or strict UTF-8 bytes and returns the UTF-8 bytes of its canonical form. */
export function canonicalize(input: string | Uint8Array): Uint8Array {
  return typeof input === 'string' ? scanText(input) : scan(input, null)
}

/** Parses UTF-8 bytes once and returns both the value and its canonical UTF-8 bytes. */
export function parseCanonical(input: Uint8Array): { value: JsonValue; canonical: Uint8Array } {
  const canonical = scan(input, null)
  // The scan proved the bytes are valid UTF-8 and strict JSON, so neither step below can throw.
  const value = JSON.parse(utf8Decoder.decode(input)) as JsonValue
  return { value, canonical }
}
