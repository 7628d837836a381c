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

/** The raw JSON body of a request (415 / 400 on the wrong type or bad syntax). */
export async function rawJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type')
  if (type === undefined || !JSON_TYPE.test(type))
    fail(415, 'expected Content-Type: application/json')
  const text = await c.req.text()
  try {
    return JSON.parse(text) as unknown
  } catch {
    return fail(400, 'malformed JSON body')
  }
}

/** The validated body (400 naming the fields that failed, without their values). */
export async function jsonBody<T>(c: Context, schema: v.GenericSchema<unknown, T>): Promise<T> {
  return checkBody(await rawJson(c), schema)
}

/** Validates an already parsed body. */
export function checkBody<T>(raw: unknown, schema: v.GenericSchema<unknown, T>): T {
  const r = v.safeParse(schema, raw)
  if (r.success) return r.output
  const fields: Record<string, string> = {}
  for (const issue of r.issues) {
    const path = issuePath(issue) || '(body)'
    fields[path] ??= summarizeIssues([{ ...issue, path: undefined }])
  }
  throw new BodyError(`invalid request body: ${summarizeIssues(r.issues)}`, fields)
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
