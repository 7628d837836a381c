/**
 * The project's single RFC 8785 (JSON Canonicalization Scheme) implementation: a strict RFC 8259
 * parser plus the canonical serializer that signatures and digests are computed over. The parts
 * live in ./canonical/; this module composes them and is where callers import from.
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
 * Design: bytes are decoded by the native strict UTF-8 decoder (canonical/utf8.ts); one
 * hand-written pass checks what the native JSON.parse would tolerate (canonical/validate.ts);
 * JSON.parse then builds the value — safe, because everything it is lenient about has been
 * refused, and it defines `__proto__` as an own property — and the canonical form is serialized
 * from that value (canonical/emit.ts), the same code that serializes in-memory values.
 */
import { canonicalizeValue } from './canonical/emit.ts'
import { JsonSyntaxError, type JsonValue } from './canonical/types.ts'
import { decodeUtf8Strict, utf8Offset } from './canonical/utf8.ts'
import { validateJson } from './canonical/validate.ts'

export { canonicalizeValue, decodeUtf8Strict, JsonSyntaxError, type JsonValue }

const utf8Encoder = new TextEncoder()

/** Parses JSON text strictly per RFC 8259 plus the extra JCS restrictions listed above. */
export function parseJson(text: string): JsonValue {
  validateJson(text)
  return JSON.parse(text) as JsonValue
}

/** Parses strict UTF-8 JSON bytes; errors carry byte offsets, invalid UTF-8 reported first. */
function parseBytes(bytes: Uint8Array): JsonValue {
  const text = decodeUtf8Strict(bytes)
  try {
    return parseJson(text)
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e
    throw new JsonSyntaxError(utf8Offset(text, e.offset), e.problem)
  }
}

/** Parses JSON text or strict UTF-8 bytes and returns the UTF-8 bytes of its canonical form. */
export function canonicalize(input: string | Uint8Array): Uint8Array {
  const value = typeof input === 'string' ? parseJson(input) : parseBytes(input)
  return utf8Encoder.encode(canonicalizeValue(value))
}

/** Parses UTF-8 bytes once and returns both the value and its canonical UTF-8 bytes. */
export function parseCanonical(input: Uint8Array): { value: JsonValue; canonical: Uint8Array } {
  const value = parseBytes(input)
  return { value, canonical: utf8Encoder.encode(canonicalizeValue(value)) }
}
