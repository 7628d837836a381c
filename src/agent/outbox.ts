/**
 * The durable outbound event queue (spec runtime.md §6.6, DECISIONS §3.9, §3.11): every event
 * the mutator emits is a file before it is posted, so no event is lost to `kill -9` or a CP
 * outage, and none is applied twice (the CP deduplicates by seq).
 *
 * Layout under the state directory, keyed by rollout and seq:
 *   outbox/<rolloutId>/<seq:010>-<Kind>.json       waiting to be posted, in seq order
 *   sent/<rolloutId>/<seq:010>-<Kind>.json         posted durable events of unfinished rollouts,
 *                                                  kept so `X-Nixfleet-Replay-From: N` can re-post
 *                                                  those above N
 *   dead-letter/<rolloutId>/<seq:010>-<Kind>.json  refused by the CP with a 4xx other than
 *                                                  408/429: never retried, kept for the operator
 *
 * Invariants:
 * - Writes are tmp + fsync + rename + directory fsync; a torn `.tmp` is never read.
 * - Every file read is validated in full (`state-files.ts`); one that does not match is skipped
 *   and reported once (`corrupt`), never fatal.
 * - Events of one rollout are posted strictly in seq order (the CP drops any seq at or below
 *   the last it saw, so posting N+1 before N would lose N).
 * - Events are keyed by (rollout, seq): two rollouts may use the same seq (the reference keyed
 *   by seq alone and let them collide).
 * - Non-durable events (probe chatter) are deleted after delivery instead of kept in `sent/`:
 *   replay only needs the facts the CP's record depends on, which the core marks durable.
 */
import { join } from 'node:path'
import type { OutboundAgentEvent } from '../core/index.ts'
import { RolloutIdSchema } from '../proto/ids.ts'
import * as v from 'valibot'
import {
  ensureDir,
  listDir,
  moveDurable,
  removeFile,
  removeTree,
  sweepTmpFiles,
  writeFileDurable,
} from '../runtime/durable-fs.ts'
import { OutboxEntrySchema, readStateFile } from './state-files.ts'

/** One queued event. Times inside `event` are epoch ms (converted to RFC 3339 when posted). */
export type OutboxEntry = {
  readonly rolloutId: string
  readonly seq: number
  readonly kind: string
  readonly durable: boolean
  /** Epoch ms when the mutator emitted it. */
  readonly createdAt: number
  readonly event: OutboundAgentEvent
}

/** Why an event was dead-lettered. */
export type DeadLetterInfo = {
  readonly status: number
  readonly reason: string
  readonly at: number
}

/** Where an event file lives. */
type Area = 'outbox' | 'sent' | 'dead-letter'

const FILE_RE = /^(\d{10})-([A-Za-z]+)\.json$/

function fileName(seq: number, kind: string): string {
  return `${String(seq).padStart(10, '0')}-${kind}.json`
}

/** The durable outbound queue of one agent. */
export class Outbox {
  private readonly dirs: Record<Area, string>
  /** Files that could not be read, each once with its reason (the caller logs them). */
  readonly corrupt: { file: string; reason: string }[] = []

  constructor(stateDir: string) {
    this.dirs = {
      outbox: join(stateDir, 'outbox'),
      sent: join(stateDir, 'sent'),
      'dead-letter': join(stateDir, 'dead-letter'),
    }
    for (const d of Object.values(this.dirs)) ensureDir(d)
  }

  private rolloutDir(area: Area, rolloutId: string): string {
    // Rollout ids come from validated dispatches; re-checked because they become path segments.
    if (!v.is(RolloutIdSchema, rolloutId))
      throw new Error(`not a rollout id: ${String(rolloutId).slice(0, 80)}`)
    return join(this.dirs[area], rolloutId)
  }

  private pathOf(area: Area, e: { rolloutId: string; seq: number; kind: string }): string {
    return join(this.rolloutDir(area, e.rolloutId), fileName(e.seq, e.kind))
  }

  /** Removes temporary files torn by a crash; returns how many. */
  sweep(): number {
    let n = 0
    for (const area of Object.keys(this.dirs) as Area[]) {
      for (const rid of listDir(this.dirs[area])) n += sweepTmpFiles(join(this.dirs[area], rid))
    }
    return n
  }

  /** Persists `entry` in the outbox (durably, before anything is posted). */
  enqueue(entry: OutboxEntry): void {
    const dir = this.rolloutDir('outbox', entry.rolloutId)
    ensureDir(dir)
    writeFileDurable(join(dir, fileName(entry.seq, entry.kind)), `${JSON.stringify(entry)}\n`)
  }

  private read(area: Area, rolloutId: string): OutboxEntry[] {
    const dir = this.rolloutDir(area, rolloutId)
    const out: OutboxEntry[] = []
    for (const name of listDir(dir)) {
      const m = FILE_RE.exec(name)
      if (!m) continue // torn `.tmp` files and strangers are ignored
      const path = join(dir, name)
      const r = readStateFile(path, OutboxEntrySchema, 'event file')
      const entry =
        r.ok && r.value.seq === Number(m[1]) && r.value.rolloutId === rolloutId
          ? r.value
          : undefined
      if (entry) {
        out.push(entry)
        continue
      }
      if (this.corrupt.some((c) => c.file === path)) continue
      const reason = r.ok ? `event file ${path}: seq or rollout differ from its name` : r.message
      this.corrupt.push({ file: path, reason })
    }
    return out.sort((a, b) => a.seq - b.seq)
  }

  /** The rollouts with pending events, each with its events in seq order. */
  pending(): { rolloutId: string; entries: OutboxEntry[] }[] {
    return listDir(this.dirs.outbox)
      .filter((rid) => v.is(RolloutIdSchema, rid))
      .map((rolloutId) => ({ rolloutId, entries: this.read('outbox', rolloutId) }))
      .filter((r) => r.entries.length > 0)
  }

  /** The number of pending events (all rollouts, or one). */
  depth(rolloutId?: string): number {
    const ids = rolloutId !== undefined ? [rolloutId] : listDir(this.dirs.outbox)
    let n = 0
    for (const rid of ids) {
      if (!v.is(RolloutIdSchema, rid)) continue
      n += listDir(this.rolloutDir('outbox', rid)).filter((f) => FILE_RE.test(f)).length
    }
    return n
  }

  /** The number of dead-lettered events. */
  deadLetterCount(): number {
    let n = 0
    for (const rid of listDir(this.dirs['dead-letter'])) {
      n += listDir(join(this.dirs['dead-letter'], rid)).filter((f) => FILE_RE.test(f)).length
    }
    return n
  }

  /** Records a delivered event: durable ones move to `sent/`, the rest are deleted. */
  markSent(entry: OutboxEntry): void {
    const from = this.pathOf('outbox', entry)
    if (entry.durable) {
      try {
        moveDurable(from, this.pathOf('sent', entry))
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'ENOENT') throw e
      }
    } else {
      removeFile(from)
    }
  }

  /** Parks a refused event in `dead-letter/` with the reason; it is never retried. */
  deadLetter(entry: OutboxEntry, info: DeadLetterInfo): string {
    const dir = this.rolloutDir('dead-letter', entry.rolloutId)
    ensureDir(dir)
    const path = join(dir, fileName(entry.seq, entry.kind))
    writeFileDurable(path, `${JSON.stringify({ ...entry, deadLetter: info })}\n`)
    removeFile(this.pathOf('outbox', entry))
    return path
  }

  /** Moves the sent events of `rolloutId` with seq above `after` back to the outbox. */
  replayFrom(rolloutId: string, after: number): number {
    let n = 0
    for (const e of this.read('sent', rolloutId)) {
      if (e.seq <= after) continue
      moveDurable(this.pathOf('sent', e), this.pathOf('outbox', e))
      n++
    }
    return n
  }

  /** Every recorded event of `rolloutId` (pending, sent, dead) with seq above `after`, in order. */
  recordedAbove(rolloutId: string, after: number): OutboxEntry[] {
    const all = new Map<number, OutboxEntry>()
    for (const area of ['dead-letter', 'sent', 'outbox'] as const) {
      for (const e of this.read(area, rolloutId)) if (e.seq > after) all.set(e.seq, e)
    }
    return [...all.values()].sort((a, b) => a.seq - b.seq)
  }

  /** Forgets a finished rollout's delivered events (its pending and dead ones are kept). */
  forget(rolloutId: string): void {
    removeTree(this.rolloutDir('sent', rolloutId))
    const pendingDir = this.rolloutDir('outbox', rolloutId)
    if (listDir(pendingDir).length === 0) removeTree(pendingDir)
  }
}
