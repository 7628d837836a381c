/**
 * JSON request bodies, validated once at the edge (STYLE §7.12, §7.15): size limit (413),
 * content type (415), syntax (400) and schema (400 with per-field reasons). Error bodies never
 * echo the client's input: field reasons are rebuilt from the schema's expectations.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import * as v from 'valibot'
import { issuePath, summarizeIssues } from '../../../proto/issues.ts'
import { fail, jsonError } from './errors.ts'

/**
 * The body-size limit of a route: 413 with a JSON error beyond `maxBytes`. A declared
 * Content-Length is checked from the header alone, so the body is later read straight from the
 * socket; only a chunked body goes through Hono's streaming limiter (which materializes a full
 * Request and ReadableStream — too costly for 1,000 heartbeats a second).
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = (c: Context): Response =>
    jsonError(c, 413, `request body larger than ${maxBytes} bytes`)
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge })
  return async (c, next) => {
    const length = c.req.header('content-length')?.trim()
    if (length === undefined || c.req.header('transfer-encoding') !== undefined)
      return streaming(c, next)
    if (!/^\d{1,15}$/.test(length)) return jsonError(c, 400, 'Content-Length is not a number')
    return Number(length) > maxBytes ? tooLarge(c) : next()
  }
}

const JSON_TYPE = /^application\/json\s*(;|$)/i

// No request body of the protocol nests deeper than a few levels; the signature over a token's
// claims canonicalizes them recursively, so a 20,000-deep unknown claim would exhaust the stack.
const MAX_JSON_DEPTH = 64

/** Whether `value` nests arrays and objects deeper than `max` (iteratively: no recursion). */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    if (depth >= max) return true
    for (const child of Object.values(v)) stack.push([child, depth + 1])
  }
  return false
}

/** The raw JSON body of a request (415 / 400 on the wrong type or bad syntax). */
export async function rawJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type')
  if (type === undefined || !JSON_TYPE.test(type))
    fail(415, 'expected Content-Type: application/json')
  const text = await c.req.text()
  let value: unknown
  try {
    value = JSON.parse(text) as unknown
  } catch {
    return fail(400, 'malformed JSON body')
  }
  if (nestedDeeperThan(value, MAX_JSON_DEPTH)) fail(400, 'JSON body nested too deeply')
  return value
}

/** The validated body (400 naming the fields that failed, without their values). */
export async function jsonBody<T>(c: Context, schema: v.GenericSchema<unknown, T>): Promise<T> {
  return checkBody(await rawJson(c), schema)
}

/** Validates an already parsed body. */
export function checkBody<T>(raw: unknown, schema: v.GenericSchema<unknown, T>): T {
  const r = v.safeParse(schema, raw)
  if (r.success) return r.output
  const issues = r.issues.map(withoutInputKeys)
  const fields: Record<string, string> = {}
  for (const issue of issues) {
    const path = issuePath(issue) || '(body)'
    fields[path] ??= summarizeIssues([{ ...issue, path: undefined }])
  }
  throw new BodyError(`invalid request body: ${summarizeIssues(issues)}`, fields)
}

/**
 * An unknown key of a strict object is input: reported at its parent as "unknown key", never by
 * its name (the key could be anything the client sent).
 */
function withoutInputKeys(issue: v.BaseIssue<unknown>): v.BaseIssue<unknown> {
  if (issue.type !== 'strict_object' || issue.expected !== 'never' || issue.path === undefined)
    return issue
  const parent = issue.path.slice(0, -1)
  return {
    ...issue,
    message: 'unknown key',
    path: parent.length > 0 ? (parent as typeof issue.path) : undefined,
  }
}

/** A schema failure: rendered as 400 `{ error, fields }`. */
export class BodyError extends Error {
  constructor(
    message: string,
    readonly fields: Record<string, string>
  ) {
    super(message)
  }
}
