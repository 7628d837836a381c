/**
 * The embedded PostgreSQL migrations and their application at start (the counterpart of
 * `../migrate.ts`): the journal and every SQL file are imported as text, so the compiled binary
 * carries them. Several replicas may start at once on one database: each applies the pending
 * migrations in one transaction under a transaction-scoped advisory lock, so the second waits
 * for the first and then finds nothing left to do.
 * Invariants: every journal entry has its SQL embedded here (a test checks); migrations only
 * ever add (an applied one is never edited); `nixfleet_migrations` records each applied tag once.
 */
import journal from '../migrations-pg/journal.json' with { type: 'json' }
import init from '../migrations-pg/0000_init.sql' with { type: 'text' }

/** The SQL of every PostgreSQL migration, by journal tag. */
export const EMBEDDED_PG_MIGRATIONS: Readonly<Record<string, string>> = {
  '0000_init': init,
}

/** The journal of the embedded PostgreSQL migrations, in order. */
export const PG_MIGRATION_JOURNAL: { readonly entries: readonly { readonly tag: string }[] } =
  journal

/** The table recording the applied migrations. */
export const PG_MIGRATIONS_TABLE = 'nixfleet_migrations'

// 'nfmg': distinct from the leader lock (docs/control-plane.md, replicas), so migrating never looks like leading.
const MIGRATION_LOCK = 0x6e66_6d67

/** Splits a migration at drizzle's `--> statement-breakpoint` markers. */
export function migrationStatements(text: string): string[] {
  return text
    .split('--> statement-breakpoint')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

/** Applies every pending embedded migration; returns whether the database was empty before. */
export async function applyPgMigrations(sql: Bun.SQL): Promise<{ wasEmpty: boolean }> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
    const [existing] = (await tx`SELECT to_regclass('event_log') IS NOT NULL AS present`) as {
      present: boolean
    }[]
    await tx.unsafe(
      `CREATE TABLE IF NOT EXISTS ${PG_MIGRATIONS_TABLE} (tag text PRIMARY KEY, applied_at text NOT NULL)`
    )
    const applied = new Set(
      ((await tx.unsafe(`SELECT tag FROM ${PG_MIGRATIONS_TABLE}`)) as { tag: string }[]).map(
        (r) => r.tag
      )
    )
    for (const { tag } of PG_MIGRATION_JOURNAL.entries) {
      if (applied.has(tag)) continue
      const text = EMBEDDED_PG_MIGRATIONS[tag]
      if (text === undefined) throw new Error(`PostgreSQL migration ${tag} is not embedded`)
      for (const statement of migrationStatements(text)) await tx.unsafe(statement)
      // The database's clock, not the process's: the journal records when the database changed.
      await tx.unsafe(
        `INSERT INTO ${PG_MIGRATIONS_TABLE} (tag, applied_at) VALUES ($1, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`,
        [tag]
      )
    }
    return { wasEmpty: existing?.present !== true }
  })
}
