/**
 * Migration 0003 rebuilds `rollouts` (the `Cancelled` state joins its CHECK): a database written
 * before it keeps every rollout, its latest halt becomes `last_halt_json`, and the new state and
 * tables work after the upgrade.
 */
import { afterEach, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate } from 'drizzle-orm/bun-sqlite/migrator'
import { openDatabase } from './client.ts'
import { EMBEDDED_MIGRATIONS, MIGRATION_JOURNAL } from './migrate.ts'
import { openStore } from './store.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

test('a database from before 0003 keeps its rollouts and gains the history columns', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nixfleet-mig-'))
  dirs.push(dir)
  // The migrations as they were before 0003.
  const old = join(dir, 'old')
  mkdirSync(join(old, 'meta'), { recursive: true })
  const entries = MIGRATION_JOURNAL.entries.filter((e) => e.idx < 3)
  writeFileSync(
    join(old, 'meta', '_journal.json'),
    JSON.stringify({ ...MIGRATION_JOURNAL, entries })
  )
  for (const e of entries) writeFileSync(join(old, `${e.tag}.sql`), EMBEDDED_MIGRATIONS[e.tag]!)
  const path = join(dir, 'state.db')
  const before = openDatabase(path)
  migrate(before.db, { migrationsFolder: old })
  const halt = { at: 1, hostname: 'h1', hostPhase: 'Reverted' }
  before.sqlite
    .query(
      `INSERT INTO rollouts (rollout_id, channel, target_ref, state, opened_at, halt_json, policy_json)
       VALUES ('stable@abc', 'stable', 'abc', 'Reverted', '2026-05-01T12:00:00.000Z', ?, '{}')`
    )
    .run(JSON.stringify(halt))
  before.close()

  const store = openStore(path)
  try {
    const r = (await store.rollouts.get('stable@abc'))!.record
    expect(r).toMatchObject({ phase: 'Reverted', halt, lastHalt: halt, cancelled: null })
    const cancelled = { at: 2, operator: 'operator-alice', reason: 'bad' }
    store.rollouts.update({ ...r, phase: 'Cancelled', halt: null, cancelled }, null)
    expect((await store.rollouts.get('stable@abc'))!.record).toMatchObject({
      phase: 'Cancelled',
      cancelled,
      lastHalt: halt,
    })
    store.operator.upsertDenial({ kind: 'host', name: 'h1', reason: 'r', by: 'op', at: 3 })
    expect(await store.operator.denials()).toEqual([
      { kind: 'host', name: 'h1', reason: 'r', by: 'op', at: 3 },
    ])
  } finally {
    store.close()
  }
})
