/**
 * Opening the control plane's PostgreSQL database (Bun's built-in SQL client through
 * drizzle-orm). The password never travels in the URL: it comes from a file (docs/control-plane.md, replicas).
 * Invariants: no message this module produces contains the password; a connection that cannot
 * be made fails here, once, with a sentence naming host:port/database, not at the first query.
 */
import { readFileSync, statSync } from 'node:fs'
import { drizzle, type BunSQLDatabase } from 'drizzle-orm/bun-sql'
import * as schemaPg from '../schema-pg.ts'

/** The typed drizzle handle of the CP database on PostgreSQL. */
export type PgDb = BunSQLDatabase<typeof schemaPg>

/** Where the database is: a URL without a password, and the file holding it. */
export type PostgresTarget = { readonly url: string; readonly passwordFile?: string }

/** An open PostgreSQL database: the drizzle handle and the client (a pool) behind it. */
export type OpenPostgres = {
  readonly sql: Bun.SQL
  readonly db: PgDb
  close(): Promise<void>
}

/** `host:port/database` of a URL, for messages (never the user's password). */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port || '5432'}/${decodeURIComponent(u.pathname.replace(/^\//, ''))}`
  } catch {
    return 'an unparseable URL'
  }
}

/** The password in `file`, without its trailing newline; the file must not be world-readable. */
export function readPasswordFile(file: string): string {
  let text: string
  try {
    if ((statSync(file).mode & 0o004) !== 0)
      throw new Error(`the PostgreSQL password file ${file} is world-readable: chmod o-r it`)
    text = readFileSync(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === undefined && e instanceof Error) throw e
    throw new Error(`cannot read the PostgreSQL password file ${file} (${code ?? String(e)})`)
  }
  return text.replace(/\r?\n$/, '')
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Opens a pool on `target` and checks that it connects; the caller closes it. */
export async function openPostgres(target: PostgresTarget): Promise<OpenPostgres> {
  const where = describePostgresUrl(target.url)
  let parsed: URL
  try {
    parsed = new URL(target.url)
  } catch {
    throw new Error(`the PostgreSQL URL is not a URL (postgres://user@host[:port]/database)`)
  }
  if (parsed.password !== '')
    throw new Error(`the PostgreSQL URL for ${where} carries a password: put it in a password file`)
  const password =
    target.passwordFile === undefined ? undefined : readPasswordFile(target.passwordFile)
  const sql =
    password === undefined ? new Bun.SQL(target.url) : new Bun.SQL({ url: target.url, password })
  try {
    await sql`SELECT 1`
  } catch (e) {
    await sql.close().catch(() => undefined)
    const reason = password ? errorText(e).replaceAll(password, '***') : errorText(e)
    throw new Error(`cannot connect to PostgreSQL at ${where}: ${reason}`)
  }
  return {
    sql,
    db: drizzle({ client: sql, schema: schemaPg }),
    close: () => sql.close(),
  }
}
