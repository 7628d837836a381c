/**
 * The agent's anti-rollback marks (DECISIONS §3.1): per artifact kind, and per channel for
 * rollout manifests, the newest artifact accepted (highest `signedAt`, then `ciCommit`), kept in
 * `<state-dir>/anti-rollback.json`. A validly signed but older artifact is refused.
 *
 * Invariants:
 * - A mark is persisted (durably) before the artifact it admits is used.
 * - Marks only move forward (`compareHighWater` decides; `accept` refuses a rollback).
 * - A missing (or unreadable) marks file is not silent: the first artifact accepted afterwards
 *   re-anchors the marks on whatever the CP serves, and that moment is recorded as
 *   `reanchoredAt`, logged by the caller, counted in metrics and reported in every heartbeat.
 */
import { join } from 'node:path'
import {
  compareHighWater,
  type HighWaterMark,
  type HighWaterVerdict,
} from '../core/release/anti-rollback.ts'
import { readFileIfExists, writeFileDurable } from '../runtime/durable-fs.ts'

export { highWaterKey } from '../core/release/anti-rollback.ts'

type MarksFile = {
  readonly version: 1
  readonly marks: Record<string, HighWaterMark>
  readonly reanchoredAt: number | null
}

function isMark(x: unknown): x is HighWaterMark {
  if (typeof x !== 'object' || x === null) return false
  const m = x as Record<string, unknown>
  return (
    typeof m['signedAtMs'] === 'number' &&
    (m['ciCommit'] === null || typeof m['ciCommit'] === 'string')
  )
}

/** The persisted high-water marks of one agent. */
export class AnchorStore {
  private readonly path: string
  private marks: Record<string, HighWaterMark> = {}
  private reanchored: number | null = null
  /** Why the file could not be used at start (`missing` or `unreadable`), if so. */
  readonly startProblem: 'missing' | 'unreadable' | undefined

  constructor(stateDir: string) {
    this.path = join(stateDir, 'anti-rollback.json')
    const bytes = readFileIfExists(this.path)
    if (bytes === undefined) {
      this.startProblem = 'missing'
      return
    }
    try {
      const parsed = JSON.parse(new TextDecoder().decode(bytes)) as Partial<MarksFile>
      const marks = parsed.marks ?? {}
      for (const [k, m] of Object.entries(marks)) if (isMark(m)) this.marks[k] = m
      this.reanchored = typeof parsed.reanchoredAt === 'number' ? parsed.reanchoredAt : null
      this.startProblem = undefined
    } catch {
      this.startProblem = 'unreadable'
    }
  }

  /** When the marks were last re-anchored on the CP's artifacts (epoch ms), if ever. */
  get reanchoredAt(): number | null {
    return this.reanchored
  }

  /** The mark under `key`. */
  get(key: string): HighWaterMark | undefined {
    return this.marks[key]
  }

  /** How `candidate` compares with the mark under `key`. */
  check(key: string, candidate: HighWaterMark): HighWaterVerdict {
    return compareHighWater(candidate, this.marks[key])
  }

  /**
   * Records `candidate` as the mark under `key` when it advances it; returns the verdict and
   * whether this acceptance re-anchored a missing marks file (first mark since start).
   */
  accept(
    key: string,
    candidate: HighWaterMark,
    now: number
  ): { verdict: HighWaterVerdict; reanchored: boolean } {
    const verdict = this.check(key, candidate)
    if (verdict !== 'advance') return { verdict, reanchored: false }
    const reanchored = this.startProblem !== undefined && Object.keys(this.marks).length === 0
    this.marks = { ...this.marks, [key]: candidate }
    if (reanchored) this.reanchored = now
    this.persist()
    return { verdict, reanchored }
  }

  private persist(): void {
    const file: MarksFile = { version: 1, marks: this.marks, reanchoredAt: this.reanchored }
    writeFileDurable(this.path, `${JSON.stringify(file, null, 2)}\n`)
  }
}
