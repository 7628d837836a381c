/**
 * Tests of the marks file beside the database: its path, the merge at open (the file catching
 * up with the database and the other way round), writes going to the file, and refusals.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { marksFilePath, mirrorMarks, readMarksFile } from './marks-file.ts'
import type { StoredMark } from '../db/store.ts'

let dir = ''
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-marks-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const mark = (key: string, signedAtMs: number, sha256 = 'x'): StoredMark => ({
  key,
  signedAtMs,
  ciCommit: 'a'.repeat(40),
  sha256,
})

/** Release queries over an array standing in for the table. */
function fakeQueries(rows: StoredMark[]) {
  return {
    marks: async () => [...rows],
    setMark(m: StoredMark, _at: number): void {
      const i = rows.findIndex((r) => r.key === m.key)
      if (i >= 0) rows[i] = m
      else rows.push(m)
    },
  }
}

describe('marksFilePath', () => {
  test('beside the database, not matching its name with a glob; none in memory', () => {
    expect(marksFilePath('/var/lib/cp/state.db')).toBe('/var/lib/cp/state.marks.json')
    expect(marksFilePath('/var/lib/cp/state')).toBe('/var/lib/cp/state.marks.json')
    expect(marksFilePath(':memory:')).toBeUndefined()
  })
})

describe('mirrorMarks', () => {
  test('a database lost: the file keeps the marks', async () => {
    const path = join(dir, 'state.marks.json')
    const first = await mirrorMarks(fakeQueries([]), path)
    first.setMark(mark('fleet', 2000), 0)
    first.setMark(mark('revocations', 1000), 0)
    expect(readMarksFile(path)).toEqual([mark('fleet', 2000), mark('revocations', 1000)])
    const again = await mirrorMarks(fakeQueries([]), path)
    expect(await again.marks()).toEqual([mark('fleet', 2000), mark('revocations', 1000)])
  })

  test('a file behind the database (or absent) catches up at open', async () => {
    const path = join(dir, 'state.marks.json')
    const q = await mirrorMarks(fakeQueries([mark('fleet', 3000, 'y')]), path)
    expect(readMarksFile(path)).toEqual([mark('fleet', 3000, 'y')])
    expect(await q.marks()).toEqual([mark('fleet', 3000, 'y')])
  })

  test('the higher mark wins key by key', async () => {
    const path = join(dir, 'state.marks.json')
    const first = await mirrorMarks(fakeQueries([]), path)
    first.setMark(mark('fleet', 5000, 'f'), 0)
    const q = await mirrorMarks(
      fakeQueries([mark('fleet', 4000), mark('bootstrap-nonces', 9)]),
      path
    )
    expect((await q.marks()).sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      mark('bootstrap-nonces', 9),
      mark('fleet', 5000, 'f'),
    ])
  })

  test('in memory: no file is written', async () => {
    const q = await mirrorMarks(fakeQueries([]), undefined)
    q.setMark(mark('fleet', 1), 0)
    expect(existsSync(join(dir, 'state.marks.json'))).toBe(false)
  })

  test('a corrupt file is refused, naming it', async () => {
    const path = join(dir, 'state.marks.json')
    writeFileSync(path, '{"schemaVersion":1,"marks":[{"key":"fleet"}]}')
    await expect(mirrorMarks(fakeQueries([]), path)).rejects.toThrow(
      `anti-rollback marks ${path}: not a marks file`
    )
  })
})
