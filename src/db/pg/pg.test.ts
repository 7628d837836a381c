// The PostgreSQL client and migrations against a real throwaway server.
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import { usePostgres } from '../../../tests/support/postgres.ts'
import { adoptedArtifacts, eventLog, operatorActions } from '../schema-pg.ts'
import { openPostgres, readPasswordFile } from './client.ts'
import {
  applyPgMigrations,
  EMBEDDED_PG_MIGRATIONS,
  PG_MIGRATION_JOURNAL,
  PG_MIGRATIONS_TABLE,
} from './migrate.ts'

const pg = usePostgres()

describe('openPostgres', () => {
  test('connects with the password file and closes', async () => {
    const open = await openPostgres({ url: pg().url, passwordFile: pg().passwordFile })
    expect((await open.sql`SELECT current_user AS u`)[0]).toEqual({ u: 'nixfleet' })
    await open.close()
  })

  test('the password file loses only its trailing newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixfleet-pw-'))
    writeFileSync(join(dir, 'a'), ' p w \n', { mode: 0o600 })
    writeFileSync(join(dir, 'b'), 'pw\n\n', { mode: 0o640 })
    writeFileSync(join(dir, 'c'), 'pw\n', { mode: 0o644 })
    expect(readPasswordFile(join(dir, 'a'))).toBe(' p w ')
    expect(readPasswordFile(join(dir, 'b'))).toBe('pw\n')
    expect(() => readPasswordFile(join(dir, 'c'))).toThrow(
      `the PostgreSQL password file ${join(dir, 'c')} is world-readable`
    )
  })

  test('a missing password file is an error naming it', async () => {
    await expect(openPostgres({ url: pg().url, passwordFile: '/nonexistent/pw' })).rejects.toThrow(
      'cannot read the PostgreSQL password file /nonexistent/pw (ENOENT)'
    )
  })

  test('connection errors name host:port/database and never the password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixfleet-pw-'))
    const wrong = join(dir, 'wrong')
    writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 })
    const bad = openPostgres({ url: pg().url, passwordFile: wrong })
    await expect(bad).rejects.toThrow(
      `cannot connect to PostgreSQL at 127.0.0.1:${pg().port}/nixfleet: `
    )
    await bad.catch((e: Error) => expect(e.message).not.toContain('not-the-password'))
    const refused = openPostgres({ url: 'postgres://nixfleet@127.0.0.1:1/db', passwordFile: wrong })
    await expect(refused).rejects.toThrow('cannot connect to PostgreSQL at 127.0.0.1:1/db: ')
    await expect(
      openPostgres({ url: pg().connectionString(), passwordFile: pg().passwordFile })
    ).rejects.toThrow('carries a password')
  })
})

describe('applyPgMigrations', () => {
  test('every journal entry has its SQL embedded', () => {
    expect(PG_MIGRATION_JOURNAL.entries.map((e) => e.tag).sort()).toEqual(
      Object.keys(EMBEDDED_PG_MIGRATIONS).sort()
    )
  })

  test('two concurrent starts on a fresh database both succeed and apply once', async () => {
    const url = await pg().createDatabase('concurrent_start')
    const a = await openPostgres({ url, passwordFile: pg().passwordFile })
    const b = await openPostgres({ url, passwordFile: pg().passwordFile })
    try {
      const results = await Promise.all([applyPgMigrations(a.sql), applyPgMigrations(b.sql)])
      expect(results.map((r) => r.wasEmpty).sort()).toEqual([false, true])
      const rows = await a.sql.unsafe(`SELECT tag FROM ${PG_MIGRATIONS_TABLE} ORDER BY tag`)
      expect(rows.map((r: { tag: string }) => r.tag)).toEqual(
        PG_MIGRATION_JOURNAL.entries.map((e) => e.tag)
      )
      const [first] = await a.sql.unsafe(`SELECT applied_at FROM ${PG_MIGRATIONS_TABLE}`)
      expect(first.applied_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(await a.sql`SELECT id, epoch, holder FROM cp_leader`).toEqual([
        { id: 1, epoch: '0', holder: '' },
      ])
      expect(await applyPgMigrations(a.sql)).toEqual({ wasEmpty: false })
    } finally {
      await a.close()
      await b.close()
    }
  })

  test('drizzle reads and writes the tables: bigint as number, bytea as Buffer, enums checked', async () => {
    const url = await pg().createDatabase('drizzle_roundtrip')
    const open = await openPostgres({ url, passwordFile: pg().passwordFile })
    try {
      await applyPgMigrations(open.sql)
      const { db } = open
      await db.insert(eventLog).values({ seq: 7, ts: 't', kind: 'operator_action', payload: '{}' })
      expect(await db.select().from(eventLog).where(eq(eventLog.seq, 7))).toEqual([
        { seq: 7, ts: 't', hostId: null, rolloutId: null, kind: 'operator_action', payload: '{}' },
      ])
      const bytes = Buffer.from([0, 1, 255])
      await db.insert(adoptedArtifacts).values({
        key: 'k',
        artifact: bytes,
        signature: Buffer.alloc(0),
        sha256: 's',
        adoptedAt: 't',
      })
      const [artifact] = await db.select().from(adoptedArtifacts)
      expect(Buffer.isBuffer(artifact?.artifact)).toBe(true)
      expect(artifact?.artifact.equals(bytes)).toBe(true)
      const [action] = await db
        .insert(operatorActions)
        .values({ at: 't', operatorCn: 'op', action: 'a', target: 'x', eventLogSeq: 7 })
        .returning()
      expect(action?.id).toBe(1)
      await expect(
        db
          .insert(eventLog)
          .values({ seq: 8, ts: 't', kind: 'nonsense' as never, payload: '{}' })
          .execute()
      ).rejects.toThrow()
    } finally {
      await open.close()
    }
  })
})
