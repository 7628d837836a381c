/**
 * The agent's view of `trust.json`: parsed (fail fast) at start, then re-read whenever the file
 * changes, so a key rotation reaches the agent without a restart (protocol §4: the reference
 * re-reads it per verify).
 * Invariant: a file that becomes unreadable or invalid never removes trust roots silently: the
 * last good parse stays in use and the problem is reported once per change.
 */
import { statSync } from 'node:fs'
import type { TrustFile } from '../proto/trust.ts'
import { readTrustFile as readTrust } from '../runtime/json-file.ts'

/** Reads and validates a trust file; throws an Error with one operator-readable line. */
export function readTrustFile(path: string): TrustFile {
  const r = readTrust(path)
  if (!r.ok) throw new Error(r.message)
  return r.value
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
