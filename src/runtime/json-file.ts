/**
 * Reading an operator's JSON file (trust.json and the like): read, decode as strict UTF-8,
 * strict JSON parse, schema check. Every failure becomes one line naming the file and the
 * problem, never echoing the file's contents. The one reader the CLI, the control plane and the
 * agent share, so they agree on what a valid file is and say so in the same words.
 */
import { readFileSync } from 'node:fs'
import * as v from 'valibot'
import { JsonSyntaxError, decodeUtf8Strict, parseJson } from '../crypto/canonical-json.ts'
import { summarizeIssues } from '../proto/issues.ts'
import { type TrustFile, TrustFileSchema } from '../proto/trust.ts'
import { fsReason } from './durable-fs.ts'

/** A validated file's value, or the one-line reason it is unusable. */
export type FileResult<T> = { ok: true; value: T } | { ok: false; message: string }

/** Reads `path` and validates it against `schema`; `what` names the file in messages. */
export function readJsonFile<T>(path: string, schema: v.GenericSchema<unknown, T>, what: string): FileResult<T> {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(readFileSync(path))
  } catch (e) {
    return { ok: false, message: `cannot read ${what} ${path}: ${fsReason(e)}` }
  }
  let raw: unknown
  try {
    raw = parseJson(decodeUtf8Strict(bytes))
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { ok: false, message: `${what} ${path}: ${e.message}` }
    throw e
  }
  const r = v.safeParse(schema, raw)
  return r.success ? { ok: true, value: r.output } : { ok: false, message: `${what} ${path}: ${summarizeIssues(r.issues)}` }
}

/** Reads and validates a trust.json. */
export function readTrustFile(path: string): FileResult<TrustFile> {
  return readJsonFile(path, TrustFileSchema, 'trust file')
}
