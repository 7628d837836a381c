// The throwaway server really starts, requires its password, and goes away on stop().
import { expect, test } from 'bun:test'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { startPostgres, usePostgres } from './postgres.ts'

const pg = usePostgres()

test('answers queries with the password and refuses a wrong one', async () => {
  expect(readFileSync(pg().passwordFile, 'utf8').trim()).toBe(pg().password)
  expect(statSync(pg().passwordFile).mode & 0o777).toBe(0o600)
  const sql = new Bun.SQL(pg().connectionString())
  try {
    const rows = await sql`SELECT current_user AS u, current_database() AS d`
    expect(rows[0]).toEqual({ u: 'nixfleet', d: 'nixfleet' })
  } finally {
    await sql.close()
  }
  const wrong = new Bun.SQL(`postgres://nixfleet:wrong@127.0.0.1:${pg().port}/nixfleet`)
  try {
    await expect(wrong`SELECT 1`).rejects.toThrow(/password/i)
  } finally {
    await wrong.close()
  }
})

test('creates further databases, and stop() removes the server', async () => {
  const url = await pg().createDatabase('second_db')
  expect(url).toEndWith('/second_db')
  const other = await startPostgres()
  const dir = other.passwordFile.replace(/\/password$/, '')
  expect(existsSync(dir)).toBe(true)
  await other.stop()
  expect(existsSync(dir)).toBe(false)
}, 60_000)
