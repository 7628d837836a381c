/**
 * The embedded migrations and their application at start (STYLE §7.21). The journal and every
 * SQL file are imported as text, so the compiled binary carries them; `migrate()` from drizzle
 * reads a folder, so they are written to a private temporary folder for the call and removed.
 * Invariant: every journal entry has its SQL embedded here (a test checks), and migrations only
 * ever add: an applied migration is never edited.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate } from 'drizzle-orm/bun-sqlite/migrator'
import type { Database } from 'bun:sqlite'
import type { Db } from './client.ts'
import journal from './migrations/meta/_journal.json' with { type: 'json' }
import init from './migrations/0000_init.sql' with { type: 'text' }
import tokenReplayKeepUntil from './migrations/0001_token_replay_keep_until.sql' with { type: 'text' }
import hostRecords from './migrations/0002_host_records.sql' with { type: 'text' }
import rolloutHistory from './migrations/0003_rollout_history.sql' with { type: 'text' }

/** The SQL of every migration, by journal tag. */
export const EMBEDDED_MIGRATIONS: Readonly<Record<string, string>> = {
  '0000_init': init,
  '0001_token_replay_keep_until': tokenReplayKeepUntil,
  '0002_host_records': hostRecords,
  '0003_rollout_history': rolloutHistory,
}

/** The journal of the embedded migrations. */
export const MIGRATION_JOURNAL = journal

/** Applies every pending embedded migration; returns whether the database was empty before. */
export function applyMigrations(db: Db, sqlite: Database): { wasEmpty: boolean } {
  const existing = sqlite
    .query("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'event_log'")
    .get() as { n: number }
  const dir = mkdtempSync(join(tmpdir(), 'nixfleet-migrations-'))
  try {
    mkdirSync(join(dir, 'meta'))
    writeFileSync(join(dir, 'meta', '_journal.json'), JSON.stringify(journal))
    for (const entry of journal.entries) {
      const sql = EMBEDDED_MIGRATIONS[entry.tag]
      if (sql === undefined) throw new Error(`migration ${entry.tag} is not embedded`)
      writeFileSync(join(dir, `${entry.tag}.sql`), sql)
    }
    migrate(db, { migrationsFolder: dir })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return { wasEmpty: existing.n === 0 }
}
