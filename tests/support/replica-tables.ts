/**
 * The replica tables of the PostgreSQL schema (`cp_leader`, `cp_inputs`) for the replica tests,
 * until the PostgreSQL migrations create them: the shared design's DDL (REPLICAS.md §2), verbatim.
 * Invariant: each test database is fresh (epoch 0, no inputs), so tests never see each other.
 */
import type { SQL } from 'bun'
import { afterAll, beforeAll } from 'bun:test'
import { startPostgres, type TestPostgres } from './postgres.ts'

const DDL = `
CREATE TABLE cp_leader (id integer PRIMARY KEY CHECK (id = 1), epoch bigint NOT NULL, holder text NOT NULL, since text NOT NULL);
INSERT INTO cp_leader VALUES (1, 0, '', '') ON CONFLICT DO NOTHING;
CREATE TABLE cp_inputs (id bigserial PRIMARY KEY, origin text NOT NULL, kind text NOT NULL, payload text NOT NULL,
                        created_at text NOT NULL, done_at text, reply text);
CREATE INDEX cp_inputs_pending ON cp_inputs (id) WHERE done_at IS NULL;
`

/** Creates the replica tables in the database `sql` is connected to. */
export async function createReplicaTables(sql: SQL): Promise<void> {
  await sql.unsafe(DDL).simple()
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
