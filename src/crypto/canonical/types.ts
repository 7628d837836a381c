/**
 * The data model, the error type and the limits shared by the canonicalizer's parts (the first
 * two are re-exported by `canonical-json.ts`, which is where callers import them from).
 */

/** The JSON data model: what parseJson returns and canonicalizeValue accepts. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue }

/** The error thrown for malformed or non-canonicalizable JSON text. */
export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError'
  /** UTF-16 code unit offset for string input, byte offset for Uint8Array input. */
  readonly offset: number
  /** The problem without the offset prefix, e.g. `duplicate key "a"`. */
  readonly problem: string

  constructor(offset: number, problem: string) {
    super(`invalid JSON at offset ${offset}: ${problem}`)
    this.offset = offset
    this.problem = problem
  }
}

/** Deep enough for any real document; bounds the parser's and the emitter's recursion. */
export const MAX_DEPTH = 1000

/** How much of a key or number an error message quotes. */
export const MAX_SNIPPET = 40
