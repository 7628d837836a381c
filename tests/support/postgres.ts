/**
 * A throwaway PostgreSQL server for tests (Debian's `postgresql` package; `.ci/run` installs it):
 * `initdb` + `pg_ctl` in a fresh temporary directory, listening on loopback TCP at a free port,
 * with password (scram) authentication so the CP's password-file path is exercised for real.
 * Invariants: initdb refuses to run as root, so as root the server runs as the `postgres` OS user
 * (`runuser`); every server started is stopped by `stop()` (immediate shutdown, directory removed).
 * A missing PostgreSQL fails the test that needs it, naming the package. Test files take their
 * server from `usePostgres()` (one per file, started before its first test, stopped after its last).
 */
import { afterAll, beforeAll } from 'bun:test'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A running test server. */
export type TestPostgres = {
  /** `postgres://nixfleet@127.0.0.1:PORT/nixfleet` (no password: it is in `passwordFile`). */
  readonly url: string
  readonly password: string
  /** A file holding the password (mode 0600). */
  readonly passwordFile: string
  readonly port: number
  /** Creates another empty database owned by the test user; returns its URL. */
  createDatabase(name: string): Promise<string>
  /** The URL with the password inside, for clients in the test process itself. */
  connectionString(database?: string): string
  stop(): Promise<void>
}

const USER = 'nixfleet'

/** The directory of Debian's PostgreSQL binaries (the newest installed major version). */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql'
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(join(root, d, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : []
  if (majors.length === 0)
    throw new Error(
      "PostgreSQL not found under /usr/lib/postgresql: install Debian's postgresql package (.ci/run does)"
    )
  return join(root, majors[0]!, 'bin')
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

const asRoot = process.getuid?.() === 0

/** Runs a PostgreSQL tool, as the `postgres` user when this process is root. */
function run(argv: readonly string[], env: Record<string, string> = {}): void {
  const full = asRoot ? ['runuser', '-u', 'postgres', '--', ...argv] : [...argv]
  const r = Bun.spawnSync(full, {
    env: { ...process.env, ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  if (r.exitCode !== 0)
    throw new Error(
      `${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.toString().trim() || r.stdout.toString().trim()}`
    )
}

/** Starts a fresh server with one database `nixfleet` owned by user `nixfleet`. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir()
  const dir = mkdtempSync(join(tmpdir(), 'nixfleet-pg-'))
  // The server's user must be able to enter the directory and own its data directory.
  chmodSync(dir, 0o755)
  const data = join(dir, 'data')
  const password = `pw-${crypto.randomUUID()}`
  const pwSeed = join(dir, 'initdb-password')
  writeFileSync(pwSeed, `${password}\n`, { mode: 0o644 })
  if (asRoot) Bun.spawnSync(['chown', 'postgres:postgres', dir])
  run([
    join(bin, 'initdb'),
    '-D',
    data,
    '-U',
    USER,
    '--pwfile',
    pwSeed,
    '--auth',
    'scram-sha-256',
    '--encoding',
    'UTF8',
    '--no-sync',
    '--locale',
    'C',
  ])
  rmSync(pwSeed)
  const port = await freePort()
  // fsync off: a test server's durability is irrelevant and fsync dominates commit time.
  const opts = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`
  run([join(bin, 'pg_ctl'), '-D', data, '-l', join(dir, 'server.log'), '-o', opts, '-w', 'start'])
  const passwordFile = join(dir, 'password')
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 })
  const base = `postgres://${USER}@127.0.0.1:${port}`
  const connectionString = (database = 'nixfleet'): string =>
    `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`
  const admin = async (statement: string): Promise<void> => {
    const sql = new Bun.SQL(connectionString('postgres'))
    try {
      await sql.unsafe(statement)
    } finally {
      await sql.close()
    }
  }
  await admin('CREATE DATABASE nixfleet')
  let stopped = false
  return {
    url: `${base}/nixfleet`,
    password,
    passwordFile,
    port,
    connectionString,
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`)
      await admin(`CREATE DATABASE ${name}`)
      return `${base}/${name}`
    },
    async stop(): Promise<void> {
      if (stopped) return
      stopped = true
      try {
        run([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
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
