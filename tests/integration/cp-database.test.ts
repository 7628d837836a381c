/**
 * The database flags of the compiled control plane and `nixfleet cp backup`: `--database` and
 * its alias `--db-path` (never both), the password file only for PostgreSQL and never readable
 * by others, a PostgreSQL URL refused at start (exit 2) until that backend is built; and a backup
 * taken from a live, writing CP that a fresh store opens with everything the CP had written.
 * Real processes, real files.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openStore } from '../../src/db/store.ts'
import { nixfleetBin, runNixfleet as run } from '../support/binary.ts'
import { spawnLogged, type LoggedProcess } from '../support/fixtures.ts'
import { labPerTest, type FleetSpec } from './cp-support.ts'

let bin = ''
beforeAll(async () => {
  bin = await nixfleetBin()
})
const env = labPerTest()
beforeEach(() => mkdirSync(join(env.lab.dir, 'cp')))

const dbPath = (): string => join(env.lab.dir, 'cp', 'state.db')

/** The lab's CP flags with the database given by `db` instead of its `--db-path`. */
function cpArgs(db: string[], extra: string[] = []): string[] {
  const args = env.lab.cliArgs(['--prime-timeout-secs', '0', ...extra])
  const at = args.indexOf('--db-path')
  args.splice(at, 2, ...db)
  return args
}

const refused = (message: string) => ({
  code: 2,
  stdout: '',
  stderr: `nixfleet: control-plane: ${message}\n`,
})

describe('control-plane --database', () => {
  test('a sqlite URL and the --db-path alias name the same file', async () => {
    const check = ['--check-config']
    expect((await run([...cpArgs(['--database', `sqlite://${dbPath()}`]), ...check])).code).toBe(0)
    expect((await run([...cpArgs(['--db-path', dbPath()]), ...check])).code).toBe(0)
    writeFileSync(dbPath(), 'x'.repeat(8192))
    for (const db of [
      ['--database', `sqlite://${dbPath()}`],
      ['--db-path', dbPath()],
    ]) {
      expect(await run([...cpArgs(db), ...check])).toEqual(
        refused(`database ${dbPath()}: file is not a database`)
      )
    }
  })

  test('both flags, a bad URL, or a password file for SQLite are refused', async () => {
    expect(
      await run([
        ...cpArgs(['--db-path', dbPath(), '--database', 'sqlite::memory:']),
        '--check-config',
      ])
    ).toEqual(
      refused(
        '--database and --db-path (its deprecated alias) both name the database: give only --database'
      )
    )
    expect(
      await run([...cpArgs(['--database', 'postgres://cp:pw@db/nixfleet']), '--check-config'])
    ).toEqual(
      refused(
        '--database: postgres URL carries a password: put the password in --database-password-file instead'
      )
    )
    expect(await run([...cpArgs(['--database', 'sqlite:state.db']), '--check-config'])).toEqual(
      refused(
        "--database: sqlite path 'state.db' is not absolute: write sqlite:///absolute/path.db (three slashes)"
      )
    )
    const pw = join(env.lab.dir, 'pw')
    writeFileSync(pw, 'secret\n', { mode: 0o600 })
    expect(
      await run([
        ...cpArgs(['--database', `sqlite://${dbPath()}`, '--database-password-file', pw]),
        '--check-config',
      ])
    ).toEqual(
      refused(
        '--database-password-file is only for a postgres:// --database (SQLite has no password)'
      )
    )
  })

  test('the password file must exist and not be world-readable', async () => {
    const pg = ['--database', 'postgres://nixfleet@127.0.0.1:5432/nixfleet']
    const pw = join(env.lab.dir, 'pw')
    const withPw = [...pg, '--database-password-file', pw]
    expect(await run([...cpArgs(withPw), '--check-config'])).toEqual(
      refused(`--database-password-file ${pw}: no such file`)
    )
    writeFileSync(pw, 'secret\n')
    chmodSync(pw, 0o644)
    expect(await run([...cpArgs(withPw), '--check-config'])).toEqual(
      refused(`--database-password-file ${pw}: readable by every user (mode 0644); chmod o-r it`)
    )
    chmodSync(pw, 0o600)
    expect((await run([...cpArgs(withPw), '--check-config'])).code).toBe(0)
  })

  test('a PostgreSQL database that does not answer stops the start (exit 2), logged without a password', async () => {
    const pw = join(env.lab.dir, 'pw')
    writeFileSync(pw, 'secret\n', { mode: 0o600 })
    // Nothing listens on port 1: the connection is refused at once.
    const url = 'postgres://nixfleet@127.0.0.1:1/nixfleet?sslmode=disable'
    const r = await run(cpArgs(['--database', url, '--database-password-file', pw]))
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines.at(-1)).toContain('database 127.0.0.1:1/nixfleet: cannot connect to PostgreSQL')
    // The start line shows the target (the URL's user redacted as any URL credential is).
    expect(lines[0]).toContain('"database":{"kind":"postgres"')
    expect(lines[0]).toContain('127.0.0.1:1/nixfleet?sslmode=disable')
    expect(lines[0]).toContain(`"passwordFile":"${pw}"`)
    expect(r.stderr).not.toContain('secret')
    expect(existsSync(dbPath())).toBe(false)
  })
})

// Real clock: releases must be fresh. Whole seconds, as releases are stamped.
const T0 = Math.floor(Date.now() / 1000) * 1000 - 7200_000
const SPEC: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'edge' } },
  channels: { stable: {}, edge: {} },
}

/** The rollout ids and event sequence numbers in the database at `file`. */
function contents(file: string): { rollouts: string[]; events: number[] } {
  const db = new Database(file, { readonly: true })
  try {
    return {
      rollouts: db
        .query<{ id: string }, []>('SELECT rollout_id AS id FROM rollouts ORDER BY id')
        .all()
        .map((r) => r.id),
      events: db
        .query<{ seq: number }, []>('SELECT seq FROM event_log ORDER BY seq')
        .all()
        .map((r) => r.seq),
    }
  } finally {
    db.close()
  }
}

describe('nixfleet cp backup', () => {
  let cp: LoggedProcess | undefined
  afterEach(async () => {
    cp?.proc.kill('SIGTERM')
    await cp?.exited
    cp = undefined
  })

  test('copies a live, writing CP: the copy opens whole with what the CP had written', async () => {
    env.lab.publish(SPEC, { gen: 1, signedAt: T0 })
    cp = spawnLogged(
      [bin, ...cpArgs(['--database', `sqlite://${dbPath()}`], ['--poll-interval-secs', '1'])],
      { HOME: env.lab.dir }
    )
    await cp.waitForLog('listening', (l) => l['msg'] === 'listening')
    // The CP keeps adopting new releases (new rollouts and their events) while copies are taken.
    let gen = 1
    const adopted = async (): Promise<void> => {
      gen += 1
      const { ciCommit } = env.lab.publish(SPEC, { gen, signedAt: T0 + gen * 60_000 })
      await cp!.waitForLog(
        `generation ${gen} adopted`,
        (l) => l['msg'] === 'release adopted' && l['ciCommit'] === ciCommit
      )
    }
    await adopted()
    const copies: { file: string; before: ReturnType<typeof contents> }[] = []
    for (let i = 0; i < 3; i++) {
      const writing = adopted()
      const file = join(env.lab.dir, `backup-${i}.db`)
      const before = contents(dbPath())
      const r = await run(['cp', 'backup', file, '--database', `sqlite://${dbPath()}`])
      expect(r).toMatchObject({ code: 0, stderr: '' })
      expect(r.stdout).toStartWith(`wrote ${file}: ${statSync(file).size} bytes, `)
      expect(r.stdout).toContain('integrity ok')
      expect(r.stdout).toMatch(/\n {2}rollouts +\d+\n/)
      expect(statSync(file).mode & 0o777).toBe(0o600)
      const after = contents(dbPath())
      // The copy is one snapshot taken between the two reads: it holds all that was there
      // before, nothing that came after, and (sequence numbers being dense) no hole.
      const copy = contents(file)
      expect(copy.rollouts).toEqual(expect.arrayContaining(before.rollouts))
      expect(after.rollouts).toEqual(expect.arrayContaining(copy.rollouts))
      expect(copy.events.slice(0, before.events.length)).toEqual(before.events)
      expect(after.events.slice(0, copy.events.length)).toEqual(copy.events)
      copies.push({ file, before })
      await writing
    }
    expect(copies.at(-1)!.before.rollouts.length).toBeGreaterThan(copies[0]!.before.rollouts.length)
    expect(copies.at(-1)!.before.events.length).toBeGreaterThan(copies[0]!.before.events.length)

    // An existing file is never overwritten.
    const last = copies.at(-1)!.file
    const size = statSync(last).size
    expect(await run(['cp', 'backup', last, '--db-path', dbPath()])).toEqual({
      code: 2,
      stdout: '',
      stderr: `nixfleet: cp backup: ${last} already exists; a backup never overwrites a file\n`,
    })
    expect(statSync(last).size).toBe(size)

    // A fresh store opens the copy (migrations already applied) and reads what it holds.
    const held = contents(last)
    const store = await openStore(last)
    try {
      expect(store.wasEmpty).toBe(false)
      for (const id of held.rollouts) expect(await store.rollouts.get(id)).toBeDefined()
    } finally {
      store.close()
    }
    const db = new Database(last, { readonly: true })
    expect(db.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
    db.close()
  })

  test('refuses PostgreSQL, an in-memory database and a missing one', async () => {
    const file = join(env.lab.dir, 'copy.db')
    const refusal = (message: string) => ({
      code: 2,
      stdout: '',
      stderr: `nixfleet: cp backup: ${message}\n`,
    })
    expect(await run(['cp', 'backup', file, '--database', 'postgres://cp@db/nixfleet'])).toEqual(
      refusal(
        'postgres://cp@db/nixfleet is PostgreSQL: use pg_dump (this command copies SQLite databases)'
      )
    )
    expect(await run(['cp', 'backup', file, '--database', 'sqlite::memory:'])).toEqual(
      refusal('an in-memory database has nothing to back up')
    )
    expect(await run(['cp', 'backup', file, '--db-path', dbPath()])).toEqual(
      refusal(`database ${dbPath()}: no such file`)
    )
    expect(existsSync(file)).toBe(false)
  })
})
