/**
 * `nixfleet cp migrate`: the offline move of a control plane's SQLite database into PostgreSQL
 * (docs/control-plane.md, docs/control-plane.md, replicas). The copy itself is `src/db/copy.ts`; this parses the
 * flags, runs it and prints the rows copied per table.
 * Exit codes: 0 copied, 2 bad flags or a refused/failed copy (one line naming the cause).
 */
import { copySqliteToPostgres } from '../../db/copy.ts'
import type { Command } from '../command.ts'
import { type CommandSpec, type ParsedArgs, str } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { parseDatabaseUrl, passwordFileProblem, type DatabaseTarget } from '../../db/url.ts'

/** The declaration of `nixfleet cp migrate`. */
export const cpMigrateSpec: CommandSpec = {
  name: 'cp migrate',
  summary: "copy a control plane's SQLite database into an empty PostgreSQL database",
  usage:
    'nixfleet cp migrate --from sqlite:///PATH --to postgres://USER@HOST[:PORT]/DB [--to-password-file FILE]',
  details:
    'Offline: stop the control plane first. Applies the PostgreSQL migrations to the target,\n' +
    'refuses a target that already holds NixFleet rows, copies every table in one transaction\n' +
    'and prints the rows copied per table. The source is only read. The password never goes in\n' +
    'the URL: give it in --to-password-file (not world-readable).',
  options: {
    from: {
      type: 'string',
      value: 'URL',
      description: 'the SQLite database to copy (sqlite:///absolute/path.db)',
      required: true,
    },
    to: {
      type: 'string',
      value: 'URL',
      description: 'the PostgreSQL database to fill (postgres://user@host[:port]/db)',
      required: true,
    },
    'to-password-file': {
      type: 'string',
      value: 'FILE',
      description: "a file holding the PostgreSQL user's password",
    },
  },
}

/** The target of a `--from`/`--to` URL, refused (exit 2) when it is malformed or of the wrong kind. */
function targetOf<K extends DatabaseTarget['kind']>(
  flag: string,
  url: string,
  kind: K
): Extract<DatabaseTarget, { kind: K }> {
  let target: DatabaseTarget
  try {
    target = parseDatabaseUrl(url)
  } catch (e) {
    throw new CliError(`cp migrate: --${flag}: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (target.kind !== kind)
    throw new CliError(
      `cp migrate: --${flag} must be a ${kind === 'sqlite' ? 'sqlite:///absolute/path.db' : 'postgres://user@host[:port]/db'} URL, not ${url}`
    )
  return target as Extract<DatabaseTarget, { kind: K }>
}

/** Runs `nixfleet cp migrate`. */
export async function cpMigrate(args: ParsedArgs): Promise<number> {
  const from = targetOf('from', str(args, 'from')!, 'sqlite')
  const to = targetOf('to', str(args, 'to')!, 'postgres')
  if (from.path === ':memory:') throw new CliError('cp migrate: --from names an in-memory database')
  const passwordFile = str(args, 'to-password-file')
  if (passwordFile !== undefined) {
    const problem = passwordFileProblem(passwordFile)
    if (problem !== undefined)
      throw new CliError(`cp migrate: --to-password-file ${passwordFile}: ${problem}`)
  }
  let copied
  try {
    copied = await copySqliteToPostgres(
      from.path,
      passwordFile === undefined ? { url: to.url } : { url: to.url, passwordFile }
    )
  } catch (e) {
    throw new CliError(`cp migrate: ${e instanceof Error ? e.message : String(e)}`)
  }
  const width = Math.max(...copied.map((c) => c.table.length))
  for (const c of copied) process.stdout.write(`${c.table.padEnd(width)}  ${c.rows}\n`)
  const total = copied.reduce((n, c) => n + c.rows, 0)
  process.stderr.write(`copied ${total} rows in ${copied.length} tables\n`)
  return EXIT_OK
}

/** `nixfleet cp migrate` as a registry entry (for the `cp` command group). */
export const cpMigrateCommand: Command = { spec: cpMigrateSpec, run: cpMigrate }
