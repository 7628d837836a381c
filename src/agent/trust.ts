/**
 * The agent's view of `trust.json`: parsed (fail fast) at start, then re-read whenever the file
 * changes, so a key rotation reaches the agent without a restart (protocol §4: the reference
 * re-reads it per verify).
 * Invariant: a file that becomes unreadable or invalid never removes trust roots silently: the
 * last good parse stays in use and the problem is reported once per change.
 */
import { readFileSync, statSync } from 'node:fs'
import * as v from 'valibot'
import { JsonSyntaxError, decodeUtf8Strict, parseJson } from '../crypto/canonical-json.ts'
import { summarizeIssues } from '../proto/issues.ts'
import { type TrustFile, TrustFileSchema } from '../proto/trust.ts'
import { fsReason } from '../runtime/durable-fs.ts'

/** Reads and validates a trust file; throws an Error with one operator-readable line. */
export function readTrustFile(path: string): TrustFile {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(readFileSync(path))
  } catch (e) {
    throw new Error(`cannot read trust file ${path}: ${fsReason(e)}`)
  }
  let raw: unknown
  try {
    raw = parseJson(decodeUtf8Strict(bytes))
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new Error(`trust file ${path}: ${e.message}`)
    throw e
  }
  const r = v.safeParse(TrustFileSchema, raw)
  if (!r.success) throw new Error(`trust file ${path}: ${summarizeIssues(r.issues)}`)
  return r.output
}

/** A trust file that follows changes on disk. */
export class TrustSource {
  private current: TrustFile
  private mtimeMs: number
  private size: number

  constructor(
    private readonly path: string,
    private readonly onProblem: (message: string) => void
  ) {
    this.current = readTrustFile(path)
    const st = statSync(path)
    this.mtimeMs = st.mtimeMs
    this.size = st.size
  }

  /** The trust file, re-read if it changed on disk since the last call. */
  get(): TrustFile {
    try {
      const st = statSync(this.path)
      if (st.mtimeMs !== this.mtimeMs || st.size !== this.size) {
        this.mtimeMs = st.mtimeMs
        this.size = st.size
        this.current = readTrustFile(this.path)
      }
    } catch (e) {
      this.onProblem(e instanceof Error ? e.message : String(e))
    }
    return this.current
  }
}
