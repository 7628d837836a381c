// `cp migrate`'s copy: a SQLite file with rows in every table into a real PostgreSQL.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Database } from 'bun:sqlite'
import { usePostgres } from '../../tests/support/postgres.ts'
import { openDatabase } from './client.ts'
import { copySqliteToPostgres } from './copy.ts'
import { applyMigrations } from './migrate.ts'
import { openPostgres } from './pg/client.ts'
import { TABLES } from './schema-def.ts'

const pg = usePostgres()
let dir: string
let source: string

const T = '2026-01-01T00:00:00.000Z'

/** A migrated SQLite database with at least one row in every table. */
function seed(path: string): void {
  const open = openDatabase(path)
  applyMigrations(open.db, open.sqlite)
  const run = (s: string, ...p: (string | number | Uint8Array | null)[]) => open.sqlite.run(s, p)
  for (let i = 1; i <= 1200; i++)
    run(
      'INSERT INTO event_log (ts, host_id, rollout_id, kind, payload) VALUES (?, ?, ?, ?, ?)',
      T,
      i % 2 ? 'web-1' : null,
      'r1',
      'agent_event',
      `{"i":${i}}`
    )
  run(
    `INSERT INTO host_rollout_records (rollout_id, hostname, channel, state, target_closure, dispatched_at, last_event_seq) VALUES ('r1', 'web-1', 'stable', 'Soaking', '/nix/store/a', ?, 5)`,
    T
  )
  run(
    `INSERT INTO rollouts (rollout_id, channel, target_ref, state, opened_event_log_seq, opened_at, policy_json) VALUES ('r1', 'stable', 'ref', 'Active', 1, ?, '{}')`,
    T
  )
  run(`INSERT INTO host_skips VALUES ('r1', 'web-2', ?, 'op', 'broken')`, T)
  run(`INSERT INTO denials VALUES ('host', 'web-3', 'stolen', 'op', ?)`, T)
  run(`INSERT INTO quarantined_closures VALUES ('stable', 'abc', ?, 2)`, T)
  run(`INSERT INTO dispatch_queue VALUES ('web-1', 'r1', '/nix/store/a', ?, ?, 1)`, T, T)
  run(`INSERT INTO probe_failures VALUES (3, 'r1', 'web-1', 'p', 'c', 'f', ?)`, T)
  run(`INSERT INTO token_replay VALUES ('n1', 'web-1', ?, NULL)`, T)
  run(`INSERT INTO cert_revocations VALUES ('web-4', ?, 'gone', ?, 'op')`, T, T)
  run(`INSERT INTO high_water_marks VALUES ('release', ?, 'c0ffee', 'sha', ?)`, T, T)
  run(
    `INSERT INTO adopted_artifacts VALUES ('release', ?, ?, 'sha', ?)`,
    new Uint8Array([0, 1, 2, 255]),
    new Uint8Array([9]),
    T
  )
  for (let i = 0; i < 3; i++)
    run(
      `INSERT INTO operator_actions (at, operator_cn, action, target, reason, event_log_seq) VALUES (?, 'op', 'pause', 'r1', NULL, 4)`,
      T
    )
  run(`INSERT INTO host_records (hostname, channel) VALUES ('web-1', 'stable')`)
  open.close()
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-copy-'))
  source = join(dir, 'state.db')
  seed(source)
}, 60_000)

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('copySqliteToPostgres', () => {
  test('copies every table, equal counts and rows; the sequences continue past the ids', async () => {
    const url = await pg().createDatabase('copy_target')
    const copied = await copySqliteToPostgres(source, { url, passwordFile: pg().passwordFile })
    expect(copied.map((c) => c.table).sort()).toEqual(
      Object.values(TABLES)
        .map((t) => t.name)
        .sort()
    )
    expect(copied[0]).toEqual({ table: 'event_log', rows: 1200 })
    const lite = new Database(source, { readonly: true })
    const open = await openPostgres({ url, passwordFile: pg().passwordFile })
    try {
      for (const c of copied) {
        const n = (lite.query(`SELECT count(*) AS n FROM ${c.table}`).get() as { n: number }).n
        expect(c.rows).toBe(n)
        expect(c.rows).toBeGreaterThan(0)
        const [got] = await open.sql.unsafe(`SELECT count(*)::int AS n FROM ${c.table}`)
        expect(got.n).toBe(n)
      }
      expect(await open.sql`SELECT * FROM event_log WHERE seq = 1111`).toEqual([
        {
          seq: '1111',
          ts: T,
          host_id: 'web-1',
          rollout_id: 'r1',
          kind: 'agent_event',
          payload: '{"i":1111}',
        },
      ])
      const [hrr] = await open.sql`SELECT * FROM host_rollout_records`
      expect(hrr).toEqual({
        ...(lite.query('SELECT * FROM host_rollout_records').get() as object),
        last_event_seq: '5',
        wave_index: 0,
      })
      const [artifact] = await open.sql`SELECT artifact, signature FROM adopted_artifacts`
      expect([...artifact.artifact]).toEqual([0, 1, 2, 255])
      expect([...artifact.signature]).toEqual([9])
      const [action] = await open.sql`
        INSERT INTO operator_actions (at, operator_cn, action, target) VALUES ('t', 'op', 'a', 'x') RETURNING id`
      expect(action.id).toBe('4')
    } finally {
      lite.close()
      await open.close()
    }
  }, 60_000)

  test('refuses a target that already holds NixFleet rows, leaving it as it was', async () => {
    const url = await pg().createDatabase('copy_twice')
    await copySqliteToPostgres(source, { url, passwordFile: pg().passwordFile })
    await expect(
      copySqliteToPostgres(source, { url, passwordFile: pg().passwordFile })
    ).rejects.toThrow(`already holds NixFleet rows (in event_log)`)
    const open = await openPostgres({ url, passwordFile: pg().passwordFile })
    try {
      const [n] = await open.sql`SELECT count(*)::int AS n FROM event_log`
      expect(n.n).toBe(1200)
    } finally {
      await open.close()
    }
  }, 60_000)

  test('refuses a missing or non-NixFleet source before touching the target', async () => {
    const url = await pg().createDatabase('copy_refused')
    const target = { url, passwordFile: pg().passwordFile }
    await expect(copySqliteToPostgres(join(dir, 'absent.db'), target)).rejects.toThrow(
      `the SQLite database ${join(dir, 'absent.db')} does not exist`
    )
    const other = join(dir, 'other.db')
    const db = new Database(other, { create: true })
    db.run('CREATE TABLE notes (x text)')
    db.close()
    await expect(copySqliteToPostgres(other, target)).rejects.toThrow(
      `${other} is not a NixFleet database (it has no event_log table)`
    )
    const text = join(dir, 'text.db')
    writeFileSync(text, 'hello, this is not a database at all, just some text\n'.repeat(50))
    await expect(copySqliteToPostgres(text, target)).rejects.toThrow(
      `${text} is not a NixFleet database (not an SQLite file)`
    )
    const open = await openPostgres(target)
    try {
      expect(await open.sql`SELECT to_regclass('event_log') IS NULL AS untouched`).toEqual([
        { untouched: true },
      ])
    } finally {
      await open.close()
    }
  })
})
