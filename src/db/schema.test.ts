import { describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { getTableConfig } from 'drizzle-orm/sqlite-core'
import { drizzle } from 'drizzle-orm/bun-sqlite'
import * as schema from './schema.ts'
import { applyMigrations, EMBEDDED_MIGRATIONS, MIGRATION_JOURNAL } from './migrate.ts'
import { openStore } from './store.ts'

const tables = Object.values(schema).filter(
  (t) => typeof t === 'object' && t !== null && 'getSQL' in t
) as unknown as Parameters<typeof getTableConfig>[0][]

describe('embedded migrations', () => {
  test('every journal entry has its SQL embedded', () => {
    expect(MIGRATION_JOURNAL.entries.map((e) => e.tag).sort()).toEqual(
      Object.keys(EMBEDDED_MIGRATIONS).sort()
    )
  })

  test('the migrated database has exactly the columns schema.ts declares', () => {
    const sqlite = new Database(':memory:')
    applyMigrations(drizzle({ client: sqlite }), sqlite)
    expect(tables.length).toBe(14)
    for (const table of tables) {
      const cfg = getTableConfig(table)
      const rows = sqlite.query(`PRAGMA table_info(${cfg.name})`).all() as {
        name: string
        notnull: number
        pk: number
        type: string
      }[]
      const fromDb = rows
        .map((r) => ({
          name: r.name,
          notNull: r.notnull === 1 || r.pk > 0,
          type: r.type.toLowerCase(),
        }))
        .sort((a, b) => (a.name < b.name ? -1 : 1))
      const fromSchema = cfg.columns
        .map((c) => ({
          name: c.name,
          notNull: c.notNull || c.primary,
          type: c.getSQLType().toLowerCase(),
        }))
        .sort((a, b) => (a.name < b.name ? -1 : 1))
      // Composite primary keys are table-level in drizzle; SQLite reports them as pk columns.
      const pkCols = new Set(cfg.primaryKeys.flatMap((pk) => pk.columns.map((c) => c.name)))
      expect(fromDb).toEqual(
        fromSchema.map((c) => ({ ...c, notNull: c.notNull || pkCols.has(c.name) }))
      )
      const indexes = (
        sqlite.query(`PRAGMA index_list(${cfg.name})`).all() as { name: string; origin: string }[]
      )
        .filter((i) => i.origin === 'c')
        .map((i) => i.name)
        .sort()
      expect(indexes).toEqual(cfg.indexes.map((i) => i.config.name).sort())
    }
  })

  test('applying twice is a no-op and the event-log kinds are enforced', async () => {
    const store = openStore(':memory:')
    expect(store.wasEmpty).toBe(true)
    expect(await store.events.nextSeq()).toBe(1)
    store.events.append({ seq: 1, ts: 0, kind: 'operator_action', payload: { a: 1 } })
    expect(() =>
      store.events.append({ seq: 2, ts: 0, kind: 'nonsense' as never, payload: {} })
    ).toThrow()
    expect(await store.events.count()).toBe(1)
    expect(await store.events.nextSeq()).toBe(2)
    store.close()
  })

  test('the next seq is above every seq ever used, a deleted newest row included', async () => {
    const store = openStore(':memory:')
    const payload = { kind: 'ProbeResult' }
    store.events.append({ seq: 7, ts: 0, kind: 'agent_event', host: 'h', rolloutId: 'r', payload })
    expect(await store.events.nextSeq()).toBe(8)
    store.events.trimProbeResults('h', 'r', 0)
    expect(await store.events.count()).toBe(0)
    expect(await store.events.nextSeq()).toBe(8)
    store.close()
  })
})
