// `nixfleet cp migrate`: flags, help, and a run against a real PostgreSQL.
import { afterAll, beforeAll, expect, spyOn, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPostgres, type TestPostgres } from '../../../tests/support/postgres.ts'
import { openDatabase } from '../../db/client.ts'
import { applyMigrations } from '../../db/migrate.ts'
import { helpText, parseCommandArgs } from '../args.ts'
import { CliError } from '../errors.ts'
import { cpMigrate, cpMigrateCommand, cpMigrateSpec } from './cp-migrate.ts'

let pg: TestPostgres
let dir: string

beforeAll(async () => {
  pg = await startPostgres()
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-cp-migrate-'))
}, 60_000)

afterAll(async () => {
  await pg?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const run = (argv: string[]) => cpMigrate(parseCommandArgs(cpMigrateSpec, argv, {}))

test('the command and its help', () => {
  expect(cpMigrateCommand.spec.name).toBe('cp migrate')
  const help = helpText(cpMigrateSpec)
  for (const flag of ['--from', '--to', '--to-password-file']) expect(help).toContain(flag)
})

test('refuses bad URLs with a usage error naming the flag', async () => {
  const cases: [string[], string][] = [
    [['--from', '/x.db', '--to', 'postgres://u@h/d'], '--from: database URL has no scheme'],
    [['--from', 'sqlite://x.db', '--to', 'postgres://u@h/d'], '--from: sqlite URL names a host'],
    [
      ['--from', 'sqlite:///x.db', '--to', 'mysql://u@h/d'],
      "--to: unknown database URL scheme 'mysql:'",
    ],
    [['--from', 'postgres://u@h/d', '--to', 'postgres://u@h/d'], '--from must be a sqlite:///'],
    [['--from', 'sqlite:///x.db', '--to', 'sqlite:///y.db'], '--to must be a postgres://'],
    [['--from', 'sqlite:///x.db', '--to', 'postgres://u:pw@h/d'], '--to: '],
  ]
  for (const [argv, message] of cases) {
    const e = await run(argv).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(CliError)
    expect((e as CliError).message).toContain(message)
    expect((e as CliError).exitCode).toBe(2)
  }
  expect(() => parseCommandArgs(cpMigrateSpec, ['--from', 'sqlite:///x.db'], {})).toThrow('--to')
})

test('copies a database, prints the counts, and refuses a second run', async () => {
  const path = join(dir, 'state.db')
  const open = openDatabase(path)
  applyMigrations(open.db, open.sqlite)
  open.sqlite.run(
    "INSERT INTO event_log (ts, kind, payload) VALUES ('t', 'operator_action', '{}'), ('t', 'operator_action', '{}')"
  )
  open.close()
  const url = await pg.createDatabase('cli_target')
  const argv = ['--from', `sqlite://${path}`, '--to', url, '--to-password-file', pg.passwordFile]
  const out: string[] = []
  const stdout = spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk))
    return true
  })
  const stderr = spyOn(process.stderr, 'write').mockImplementation(() => true)
  try {
    expect(await run(argv)).toBe(0)
  } finally {
    stdout.mockRestore()
    stderr.mockRestore()
  }
  expect(out[0]).toMatch(/^event_log +2\n$/)
  expect(out).toContain('host_records          0\n')
  const again = await run(argv).catch((err: unknown) => err)
  expect((again as CliError).message).toStartWith('cp migrate: the PostgreSQL database 127.0.0.1:')
  expect((again as CliError).message).toContain('already holds NixFleet rows')
})
