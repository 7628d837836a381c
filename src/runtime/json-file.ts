/**
 * Reading an operator's JSON file (trust.json, a bootstrap token, health-checks.json, the CLI's
 * inputs): read, decode as strict UTF-8, strict JSON parse, schema check. Every failure becomes
 * one line naming the file and the problem, never echoing the file's contents. The one reader
 * the CLI, the control plane and the agent share, so they agree on what a valid file is and say
 * so in the same words.
 */
import { readFileSync } from 'node:fs'
import * as v from 'valibot'
import {
  JsonSyntaxError,
  decodeUtf8Strict,
  parseJson,
  type JsonValue,
} from '../crypto/canonical-json.ts'
import { summarizeIssues } from '../proto/issues.ts'
import { type TrustFile, TrustFileSchema } from '../proto/trust.ts'
import { errnoOf, fsReason } from './durable-fs.ts'

/** A validated file's value, or the one-line reason it is unusable. */
export type FileResult<T> = { ok: true; value: T } | { ok: false; message: string }

/** Decodes and parses JSON bytes strictly; `label` ("trust file /etc/…") prefixes the message. */
export function parseJsonBytes(bytes: Uint8Array, label: string): FileResult<JsonValue> {
  try {
    return { ok: true, value: parseJson(decodeUtf8Strict(bytes)) }
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { ok: false, message: `${label}: ${e.message}` }
    throw e
  }
}

/** Validates a parsed value against `schema`; the message names `label` and the fields. */
export function checkJson<T>(
  schema: v.GenericSchema<unknown, T>,
  raw: unknown,
  label: string
): FileResult<T> {
  const r = v.safeParse(schema, raw)
  return r.success
    ? { ok: true, value: r.output }
    : { ok: false, message: `${label}: ${summarizeIssues(r.issues)}` }
}

/**
 * Reads `path` and validates it against `schema`; `what` names the file in messages. With
 * `absent`, a file that does not exist is that value instead of an error.
 */
export function readJsonFile<T>(
  path: string,
  schema: v.GenericSchema<unknown, T>,
  what: string,
  options: { readonly absent?: T } = {}
): FileResult<T> {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(readFileSync(path))
  } catch (e) {
    if (options.absent !== undefined && errnoOf(e) === 'ENOENT')
      return { ok: true, value: options.absent }
    return { ok: false, message: `cannot read ${what} ${path}: ${fsReason(e)}` }
  }
  const label = `${what} ${path}`
  const raw = parseJsonBytes(bytes, label)
  return raw.ok ? checkJson(schema, raw.value, label) : raw
}

/** Reads and validates a trust.json. */
export function readTrustFile(path: string): FileResult<TrustFile> {
  return readJsonFile(path, TrustFileSchema, 'trust file')
}
