/**
 * Which database the control plane uses, from its `--database` URL: a SQLite file (the embedded
 * default), an in-memory SQLite database (tests), or a PostgreSQL database shared by replicas.
 * Invariants: a parsed target never carries a password (a URL with one is refused, so it can be
 * logged as is; the password comes from a file); every refusal is one sentence naming the bad
 * part and never repeats a password.
 */
import { accessSync, constants, statSync } from 'node:fs'

/** A checked database location. `url` has no password; `passwordFile` holds it. */
export type DatabaseTarget =
  { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; passwordFile?: string }

const EXPECTED =
  'expected sqlite:///absolute/path.db, sqlite::memory: or postgres://user@host/dbname'
// libpq's values (https://www.postgresql.org/docs/current/libpq-ssl.html).
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']

/** Parses a `--database` URL; throws an `Error` naming the bad part. */
export function parseDatabaseUrl(s: string): DatabaseTarget {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s)?.[1]
  if (scheme === undefined) throw new Error(`database URL has no scheme (${EXPECTED})`)
  const rest = s.slice(scheme.length + 1)
  switch (scheme.toLowerCase()) {
    case 'sqlite':
      return { kind: 'sqlite', path: sqlitePathOf(rest) }
    case 'postgres':
    case 'postgresql':
      checkPostgres(rest)
      return { kind: 'postgres', url: s }
    default:
      throw new Error(`unknown database URL scheme '${scheme.slice(0, 20)}:' (${EXPECTED})`)
  }
}

function sqlitePathOf(rest: string): string {
  if (rest === ':memory:') return ':memory:'
  if (rest.startsWith('///')) {
    const path = rest.slice(2)
    if (/[?#]/.test(path))
      throw new Error(`sqlite URL takes no query or fragment ('${path.replace(/^[^?#]*/, '')}')`)
    if (path.endsWith('/')) throw new Error(`sqlite path ${path} names a directory, not a file`)
    return path
  }
  if (rest.startsWith('//'))
    throw new Error(
      `sqlite URL names a host ('${rest.slice(2).split('/')[0]}'): write sqlite:///absolute/path.db (three slashes)`
    )
  throw new Error(
    `sqlite path '${rest}' is not absolute: write sqlite:///absolute/path.db (three slashes)`
  )
}

/** `//user@host[:port]/dbname[?sslmode=…]`, with no password. */
function checkPostgres(rest: string): void {
  if (!rest.startsWith('//'))
    throw new Error(`postgres URL must start with postgres:// (${EXPECTED})`)
  let body = rest.slice(2)
  if (body.includes('#')) throw new Error('postgres URL takes no fragment (#…)')
  const q = body.indexOf('?')
  const query = q === -1 ? '' : body.slice(q + 1)
  if (q !== -1) body = body.slice(0, q)
  const slash = body.indexOf('/')
  const authority = slash === -1 ? body : body.slice(0, slash)
  const at = authority.lastIndexOf('@')
  const userinfo = at === -1 ? undefined : authority.slice(0, at)
  // Before anything else: no later message may quote a part that holds the password.
  if (userinfo?.includes(':'))
    throw new Error(
      'postgres URL carries a password: put the password in --database-password-file instead'
    )
  if (userinfo === undefined || userinfo === '')
    throw new Error('postgres URL names no user: write postgres://user@host/dbname')
  const hostport = authority.slice(at + 1)
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]*))(?::(.*))?$/.exec(hostport)
  if (m === null) throw new Error(`postgres URL host '${hostport}' is not a host name or address`)
  if ((m[1] ?? m[2] ?? '') === '') throw new Error('postgres URL names no host')
  const port = m[3]
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535))
    throw new Error(`postgres URL port '${port}' is not a number from 1 to 65535`)
  const dbname = slash === -1 ? '' : body.slice(slash + 1)
  if (dbname === '')
    throw new Error('postgres URL names no database: write postgres://user@host/dbname')
  if (dbname.includes('/'))
    throw new Error(`postgres URL database name '${dbname}' contains a slash`)
  for (const param of query === '' ? [] : query.split('&')) {
    const [key, value] = [param.split('=')[0] ?? '', param.slice(param.indexOf('=') + 1)]
    if (key !== 'sslmode')
      throw new Error(`postgres URL parameter '${key}' is not supported (only sslmode)`)
    if (!param.includes('=') || !SSL_MODES.includes(value))
      throw new Error(`postgres URL sslmode '${value}' is not one of ${SSL_MODES.join(', ')}`)
  }
}

/** The URL of a target, as `--database` takes it (never with a password). */
export function databaseUrlOf(target: DatabaseTarget): string {
  if (target.kind === 'postgres') return target.url
  return target.path === ':memory:' ? 'sqlite::memory:' : `sqlite://${target.path}`
}

/**
 * Why the password file at `path` cannot be used, or undefined: it must be a readable regular
 * file that other users cannot read (a password others can read is no secret).
 */
export function passwordFileProblem(path: string): string | undefined {
  let mode: number
  try {
    const st = statSync(path)
    if (!st.isFile()) return 'not a regular file'
    mode = st.mode
  } catch (e) {
    const code = (e as { code?: string }).code
    return code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES'
        ? 'permission denied'
        : 'unreadable'
  }
  if ((mode & 0o004) !== 0)
    return `readable by every user (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); chmod o-r it`
  try {
    accessSync(path, constants.R_OK)
  } catch {
    return 'permission denied'
  }
  return undefined
}
