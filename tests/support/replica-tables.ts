/**
 * Databases for the replica tests: a fresh one per test with the PostgreSQL migrations applied
 * (they create the replica tables `cp_leader` and `cp_inputs` with the rest of the schema).
 * Invariant: each test database is fresh (epoch 0, no inputs), so tests never see each other.
 */
import type { SQL } from 'bun'
import { afterAll, beforeAll } from 'bun:test'
import { applyPgMigrations } from '../../src/db/pg/migrate.ts'
import { startPostgres, type TestPostgres } from './postgres.ts'

/** Creates the replica tables (the whole schema: the PostgreSQL migrations) where `sql` points. */
export async function createReplicaTables(sql: SQL): Promise<void> {
  await applyPgMigrations(sql)
}

let databases = 0

/**
 * A fresh database on `pg` with the replica tables; returns its connection string (password
 * included) and a pool on it that the caller closes.
 */
export async function replicaDatabase(pg: TestPostgres): Promise<{ url: string; sql: SQL }> {
  const name = `replica_${process.pid}_${++databases}`
  await pg.createDatabase(name)
  const url = pg.connectionString(name)
  const sql = new Bun.SQL(url)
  await createReplicaTables(sql)
  return { url, sql }
}

/**
 * One server for the calling test file: started before its first test, stopped after its last.
 * Returns the accessor of the running server.
 */
export function usePostgres(): () => TestPostgres {
  let pg: TestPostgres | undefined
  beforeAll(async () => {
    pg = await startPostgres()
  }, 60_000)
  afterAll(async () => {
    await pg?.stop()
  })
  return () => {
    if (pg === undefined) throw new Error('the test PostgreSQL is not running')
    return pg
  }
}
