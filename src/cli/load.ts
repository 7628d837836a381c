/**
 * Loading the operator's input files: read (`-` is stdin), strict JSON parse, schema check with
 * the shared reader of `runtime/json-file.ts` — each failure one line naming the file and what
 * is wrong with it (exit 2).
 */
import type * as v from 'valibot'
import type { JsonValue } from '../crypto/canonical-json.ts'
import type { TrustFile } from '../proto/trust.ts'
import {
  checkJson,
  type FileResult,
  parseJsonBytes as parseStrict,
  readTrustFile,
} from '../runtime/json-file.ts'
import { CliError } from './errors.ts'
import { readInput } from './io.ts'

/** The value of `r`, or its message thrown as a `CliError` (exit 2). */
function orExit<T>(r: FileResult<T>): T {
  if (!r.ok) throw new CliError(r.message)
  return r.value
}

/** Parses JSON bytes strictly, or throws `CliError` naming `label`. */
export function parseJsonBytes(bytes: Uint8Array, label: string): JsonValue {
  return orExit(parseStrict(bytes, label))
}

/** Validates `value` against `schema`, or throws `CliError` naming `label` and the fields. */
export function checkSchema<T>(
  schema: v.GenericSchema<unknown, T>,
  value: unknown,
  label: string
): T {
  return orExit(checkJson(schema, value, label))
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
  return orExit(readTrustFile(path))
}

/** Reads a detached signature file: exactly 64 raw bytes. */
export async function loadSignature(path: string): Promise<Uint8Array> {
  const sig = await readInput(path, 'signature')
  if (sig.length !== 64) {
    throw new CliError(
      `signature ${path}: ${sig.length} bytes, expected 64 raw bytes (ed25519/ecdsa-p256 R‖S)`
    )
  }
  return sig
}
