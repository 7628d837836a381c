/**
 * The agent's anti-rollback marks (DECISIONS §3.1): per artifact kind, and per channel for
 * rollout manifests, the newest artifact accepted (highest `signedAt`, then `ciCommit`), kept in
 * `<state-dir>/anti-rollback.json`. A validly signed but older artifact is refused.
 *
 * Invariants:
 * - A mark is persisted (durably) before the artifact it admits is used.
 * - Marks only move forward (`compareHighWater` decides; `accept` refuses a rollback).
 * - The file is validated in full when read (`state-files.ts`); one that does not match is
 *   unreadable as a whole (`unreadableReason` says where), never partly trusted.
 * - A missing (or unreadable) marks file is not silent: the first artifact accepted afterwards
 *   re-anchors the marks on whatever the CP serves, and that moment is recorded as
 *   `reanchoredAt`, logged by the caller, counted in metrics and reported in every heartbeat.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type * as v from 'valibot'
import {
  compareHighWater,
  type HighWaterMark,
  type HighWaterVerdict,
} from '../core/release/anti-rollback.ts'
import { writeFileDurable } from '../runtime/durable-fs.ts'
import { readJsonFile } from '../runtime/json-file.ts'
import { MarksFileSchema } from './state-files.ts'

export { highWaterKey } from '../core/release/anti-rollback.ts'

type MarksFile = v.InferOutput<typeof MarksFileSchema>

/** The persisted high-water marks of one agent. */
export class AnchorStore {
  private readonly path: string
  private marks: Record<string, HighWaterMark> = {}
  private reanchored: number | null = null
  /** Why the file could not be used at start (`missing` or `unreadable`), if so. */
  readonly startProblem: 'missing' | 'unreadable' | undefined
  /** The one-line reason an unreadable file was refused (names the file and field). */
  readonly unreadableReason: string | undefined

  constructor(stateDir: string) {
    this.path = join(stateDir, 'anti-rollback.json')
    if (!existsSync(this.path)) {
      this.startProblem = 'missing'
      this.unreadableReason = undefined
      return
    }
    const r = readJsonFile(this.path, MarksFileSchema, 'anti-rollback marks')
    if (r.ok) {
      this.marks = r.value.marks
      this.reanchored = r.value.reanchoredAt
      this.startProblem = undefined
      this.unreadableReason = undefined
    } else {
      this.startProblem = 'unreadable'
      this.unreadableReason = r.message
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
