/**
 * The record that this CP once lost its database: `state.db` → `state.db-lost.json` beside it,
 * holding the time L the CP opened a new, empty database while the anti-rollback marks file of
 * an earlier one was there (the marks file is written with the first adopted release, so a fresh
 * install has none). Enrolment refuses tokens issued before L until the operator re-signs the
 * bootstrap-nonces list with `mintedAfter` (core's `tokenFloorVerdict`).
 * Invariants: L is written (atomically, fsynced) before the CP serves; a later loss moves L
 * forward; an unreadable file fails the open, naming it, rather than forgetting the loss.
 */
import { existsSync } from 'node:fs'
import * as v from 'valibot'
import { parseRfc3339Ms, toRfc3339 } from '../proto/common.ts'
import { fsReason, writeFileDurable } from '../runtime/durable-fs.ts'
import { readJsonFile } from '../runtime/json-file.ts'
import { fileBesideDatabase, marksFilePath } from './marks-file.ts'

const DbLostSchema = v.object({
  schemaVersion: v.literal(1),
  lostAt: v.pipe(
    v.string(),
    v.check((s) => !Number.isNaN(parseRfc3339Ms(s)), 'not an RFC 3339 time')
  ),
})

/** Where the loss of the database at `dbPath` is recorded; none for an in-memory database. */
export function dbLostFilePath(dbPath: string): string | undefined {
  return fileBesideDatabase(dbPath, 'db-lost.json')
}

/** The recorded loss time at `path` (`null`: none); throws naming the file. */
export function readDbLost(path: string): number | null {
  if (!existsSync(path)) return null
  const r = readJsonFile(path, DbLostSchema, 'database-loss record')
  if (!r.ok) throw new Error(r.message)
  return parseRfc3339Ms(r.value.lostAt)
}

/**
 * When the CP of the database at `dbPath` last lost it (`null`: never), recording `now` first
 * when the database just opened is new (`dbWasEmpty`) but an earlier one left its marks file.
 * Call before the marks are mirrored to the file (which creates it).
 */
export function noteDatabaseLoss(dbPath: string, dbWasEmpty: boolean, now: number): number | null {
  const path = dbLostFilePath(dbPath)
  const marks = marksFilePath(dbPath)
  if (path === undefined || marks === undefined) return null
  if (!(dbWasEmpty && existsSync(marks))) return readDbLost(path)
  const body = { schemaVersion: 1, lostAt: toRfc3339(now) }
  try {
    writeFileDurable(path, `${JSON.stringify(body, null, 2)}\n`)
  } catch (e) {
    throw new Error(`database-loss record ${path}: ${fsReason(e)}`)
  }
  return now
}
