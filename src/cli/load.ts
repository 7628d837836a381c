/**
 * Loading the operator's input files: read, strict JSON parse, schema check — each failure one
 * line naming the file and what is wrong with it (exit 2).
 */
import * as v from 'valibot'
import { JsonSyntaxError, decodeUtf8Strict, parseJson } from '../crypto/canonical-json.ts'
import type { JsonValue } from '../crypto/canonical-json.ts'
import { summarizeIssues } from '../proto/issues.ts'
import type { TrustFile } from '../proto/trust.ts'
import { readTrustFile } from '../runtime/json-file.ts'
import { CliError } from './errors.ts'
import { readInput } from './io.ts'

/** Parses JSON bytes strictly, or throws `CliError` naming `label`. */
export function parseJsonBytes(bytes: Uint8Array, label: string): JsonValue {
  try {
    return parseJson(decodeUtf8Strict(bytes))
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new CliError(`${label}: ${e.message}`)
    throw e
  }
}

/** Validates `value` against `schema`, or throws `CliError` naming `label` and the fields. */
export function checkSchema<T>(schema: v.GenericSchema<unknown, T>, value: unknown, label: string): T {
  const r = v.safeParse(schema, value)
  if (!r.success) throw new CliError(`${label}: ${summarizeIssues(r.issues)}`)
  return r.output
}

/** Reads and validates a JSON file against `schema`. */
export async function loadJsonFile<T>(
  path: string,
  schema: v.GenericSchema<unknown, T>,
  what: string
): Promise<{ raw: JsonValue; value: T; bytes: Uint8Array }> {
  const bytes = await readInput(path, what)
  const raw = parseJsonBytes(bytes, `${what} ${path}`)
  return { raw, value: checkSchema(schema, raw, `${what} ${path}`), bytes }
}

/** Reads and validates a trust.json. */
export async function loadTrustFile(path: string): Promise<TrustFile> {
  const r = readTrustFile(path)
  if (!r.ok) throw new CliError(r.message)
  return r.value
}

/** Reads a detached signature file: exactly 64 raw bytes. */
export async function loadSignature(path: string): Promise<Uint8Array> {
  const sig = await readInput(path, 'signature')
  if (sig.length !== 64) {
    throw new CliError(`signature ${path}: ${sig.length} bytes, expected 64 raw bytes (ed25519/ecdsa-p256 R‖S)`)
  }
  return sig
}
