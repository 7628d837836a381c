/**
 * The anti-rollback marks' second home: a small JSON file beside the database
 * (`state.db` → `state.marks.json` in the same directory), so a CP whose database was lost
 * still refuses a validly signed release older than the newest it adopted (DECISIONS §3.1).
 * `mirrorMarks` wraps the store's release queries once, when the CP opens its database.
 * The name does not start with the database's, so removing `state.db*` leaves it.
 * Invariants: marks read at open are the higher of database and file, key by key
 * (`mergeHighWater`); a mark is written to the file (atomically, fsynced) before the database
 * row, so the file is never behind what the database says; an unreadable file fails the open,
 * naming it, rather than silently forgetting the marks.
 */
import { basename, dirname, join } from 'node:path'
import * as v from 'valibot'
import { mergeHighWater } from '../core/release/anti-rollback.ts'
import { parseRfc3339Ms, toRfc3339 } from '../proto/common.ts'
import { fsReason, readFileIfExists, writeFileDurable } from '../runtime/durable-fs.ts'
import type { StoredMark } from '../db/store.ts'

const MarksFileSchema = v.object({
  schemaVersion: v.literal(1),
  marks: v.array(
    v.object({
      key: v.string(),
      signedAt: v.pipe(
        v.string(),
        v.check((s) => !Number.isNaN(parseRfc3339Ms(s)), 'not an RFC 3339 time')
      ),
      ciCommit: v.nullable(v.string()),
      sha256: v.string(),
    })
  ),
})

/** Where the marks of the database at `dbPath` are kept; none for an in-memory database. */
export function marksFilePath(dbPath: string): string | undefined {
  return fileBesideDatabase(dbPath, 'marks.json')
}

/** `state.db` → `state.<suffix>` in the same directory; none for an in-memory database. */
export function fileBesideDatabase(dbPath: string, suffix: string): string | undefined {
  if (dbPath === ':memory:' || dbPath === '') return undefined
  const name = basename(dbPath).replace(/\.[^.]*$/, '')
  return join(dirname(dbPath), `${name || basename(dbPath)}.${suffix}`)
}

/** The marks in the file at `path` (none when it does not exist); throws naming the file. */
export function readMarksFile(path: string): StoredMark[] {
  let bytes: Uint8Array | undefined
  try {
    bytes = readFileIfExists(path)
  } catch (e) {
    throw new Error(`anti-rollback marks ${path}: ${fsReason(e)}`)
  }
  if (bytes === undefined) return []
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw new Error(`anti-rollback marks ${path}: not valid JSON`)
  }
  const r = v.safeParse(MarksFileSchema, raw)
  if (!r.success) throw new Error(`anti-rollback marks ${path}: not a marks file`)
  return r.output.marks.map((m) => ({
    key: m.key,
    signedAtMs: parseRfc3339Ms(m.signedAt),
    ciCommit: m.ciCommit,
    sha256: m.sha256,
  }))
}

/** Writes `marks` to `path` atomically and durably. */
export function writeMarksFile(path: string, marks: readonly StoredMark[]): void {
  const body = {
    schemaVersion: 1,
    marks: [...marks]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((m) => ({
        key: m.key,
        signedAt: toRfc3339(m.signedAtMs),
        ciCommit: m.ciCommit,
        sha256: m.sha256,
      })),
  }
  try {
    writeFileDurable(path, `${JSON.stringify(body, null, 2)}\n`)
  } catch (e) {
    throw new Error(`anti-rollback marks ${path}: ${fsReason(e)}`)
  }
}

type ReleaseQueries = {
  marks(): Promise<StoredMark[]>
  setMark(m: StoredMark, at: number): void
}

/**
 * `queries` with their marks mirrored to the file at `path`: reads merge both, writes go to
 * the file first. A file behind the database (first start with it, or deleted) catches up now.
 */
export async function mirrorMarks<Q extends ReleaseQueries>(
  queries: Q,
  path: string | undefined
): Promise<Q> {
  if (path === undefined) return queries
  const inDb = await queries.marks()
  const inFile = readMarksFile(path)
  let known = mergeHighWater(inFile, inDb)
  if (!sameMarks(known, inFile)) writeMarksFile(path, known)
  return {
    ...queries,
    marks: async () => mergeHighWater(await queries.marks(), known),
    setMark(m: StoredMark, at: number): void {
      const next = [...known.filter((k) => k.key !== m.key), m]
      writeMarksFile(path, next)
      known = next
      queries.setMark(m, at)
    },
  }
}

function sameMarks(a: readonly StoredMark[], b: readonly StoredMark[]): boolean {
  if (a.length !== b.length) return false
  const byKey = new Map(b.map((m) => [m.key, m]))
  return a.every((m) => {
    const o = byKey.get(m.key)
    return (
      o !== undefined &&
      o.signedAtMs === m.signedAtMs &&
      o.ciCommit === m.ciCommit &&
      o.sha256 === m.sha256
    )
  })
}
