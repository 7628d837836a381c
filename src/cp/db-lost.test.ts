/**
 * Tests of the database-loss record: a fresh install records nothing, a new database beside an
 * earlier one's marks file records the loss, later opens read it, and a bad file is refused.
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dbLostFilePath, noteDatabaseLoss, readDbLost } from './db-lost.ts'

let dir = ''
let db = ''
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-db-lost-'))
  db = join(dir, 'state.db')
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

test('a fresh install (no marks file) records no loss', () => {
  expect(dbLostFilePath(db)).toBe(join(dir, 'state.db-lost.json'))
  expect(noteDatabaseLoss(db, true, 1000)).toBeNull()
  expect(existsSync(join(dir, 'state.db-lost.json'))).toBe(false)
  expect(noteDatabaseLoss(':memory:', true, 1000)).toBeNull()
})

test('a new database beside a marks file records the loss; later opens keep it, a later loss moves it', () => {
  writeFileSync(join(dir, 'state.marks.json'), '{"schemaVersion":1,"marks":[]}')
  expect(noteDatabaseLoss(db, false, 1000)).toBeNull()
  expect(noteDatabaseLoss(db, true, 2000)).toBe(2000)
  expect(noteDatabaseLoss(db, false, 3000)).toBe(2000)
  expect(noteDatabaseLoss(db, true, 4000)).toBe(4000)
  expect(readDbLost(join(dir, 'state.db-lost.json'))).toBe(4000)
})

test('a malformed record stops the open, naming the file', () => {
  const path = join(dir, 'state.db-lost.json')
  writeFileSync(path, '{"schemaVersion":1}')
  expect(() => noteDatabaseLoss(db, false, 1000)).toThrow(`database-loss record ${path}: `)
})
