/**
 * The compiled control plane exits when it cannot serve (systemd restarts what exits): a start-up
 * failure is one line naming the flag, file or address and exit 2, checked before the database is
 * opened; a database failure while running is a JSON log line naming the database and exit 1.
 * A CP that lost its database still refuses an older release: its marks are kept beside it.
 * Real processes, real files, a real port held by another listener.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import {
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { toRfc3339 } from '../../src/proto/common.ts'
import { parseLogLine } from '../../src/runtime/log.ts'
import { nixfleetBin } from '../support/binary.ts'
import { freePort, spawnLogged, type LoggedProcess } from '../support/fixtures.ts'
import { Lab } from './cp-support.ts'

let bin = ''
let lab: Lab
// Above `runToExit`'s budget, so a hung CP fails the assertion rather than the test timer.
const TEST_TIMEOUT_MS = 20_000

beforeAll(async () => {
  bin = await nixfleetBin()
})
beforeEach(async () => {
  lab = await Lab.create()
  mkdirSync(join(lab.dir, 'cp'))
})
afterEach(() => lab.cleanup())

const dbPath = (): string => join(lab.dir, 'cp', 'state.db')

function cpArgs(extra: string[] = []): string[] {
  return lab.cliArgs(['--prime-timeout-secs', '0', ...extra])
}

/** Runs the CP to its exit; a CP still alive after `ms` is killed and reported as hung. */
async function runToExit(
  args: string[],
  ms = 10_000
): Promise<{ code: number | 'hung'; stderr: string }> {
  const proc = Bun.spawn([bin, ...args], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: lab.dir },
  })
  const stderr = new Response(proc.stderr).text()
  let timer: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms)
  })
  const code = await Promise.race([proc.exited, hung])
  clearTimeout(timer)
  if (code === 'hung') proc.kill('SIGKILL')
  return { code, stderr: fatalText(await stderr) }
}

/**
 * The failure a run reported, as `nixfleet: <error>\n`: a running CP's is a JSON log line at
 * priority 3 (after its start line), `--check-config`'s a plain line, kept as it is.
 */
function fatalText(stderr: string): string {
  const fatal = stderr
    .split('\n')
    .map((l) => parseLogLine(l))
    .filter((l) => l?.record['msg'] === 'fatal error')
  if (fatal.length === 0) return stderr
  expect(fatal).toHaveLength(1)
  expect(fatal[0]!.priority).toBe(3)
  return `nixfleet: ${String(fatal[0]!.record['error'])}\n`
}

describe('start-up failures exit 2 with one line', () => {
  test(
    'the port is in use: names the address, before the database is opened',
    async () => {
      const port = await freePort()
      const holder = Bun.listen({ hostname: '127.0.0.1', port, socket: { data() {} } })
      try {
        const r = await runToExit(cpArgs(['--listen', `127.0.0.1:${port}`]))
        expect(r).toEqual({
          code: 2,
          stderr: `nixfleet: control-plane: cannot listen on 127.0.0.1:${port}: address already in use\n`,
        })
        expect(existsSync(dbPath())).toBe(false)
      } finally {
        holder.stop(true)
      }
    },
    TEST_TIMEOUT_MS
  )

  test(
    'a TLS key that does not match the certificate names both flags',
    async () => {
      const key = join(lab.caDir, 'ca.key')
      const cert = join(lab.caDir, 'server.pem')
      const r = await runToExit(cpArgs(['--tls-key', key]))
      expect(r).toEqual({
        code: 2,
        stderr: `nixfleet: control-plane: --tls-key ${key} does not match --tls-cert ${cert}\n`,
      })
      expect(existsSync(dbPath())).toBe(false)
    },
    TEST_TIMEOUT_MS
  )

  test(
    'a database with corrupt pages names the file',
    async () => {
      lab.publish({ hosts: { h1: { channel: 'stable' } }, channels: { stable: {} } })
      const first = await startServing(dbPath())
      first.proc.kill('SIGTERM')
      expect(await first.exited).toBe(0)
      // Every page after the first (the header and schema root) overwritten.
      const bytes = new Uint8Array(await Bun.file(dbPath()).arrayBuffer())
      bytes.fill(0x78, 4096)
      writeFileSync(dbPath(), bytes)
      const r = await runToExit(cpArgs())
      expect(r.code).toBe(2)
      expect(r.stderr).toStartWith(`nixfleet: control-plane: database ${dbPath()}: `)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    },
    TEST_TIMEOUT_MS
  )

  test(
    'a corrupt database names the file',
    async () => {
      writeFileSync(dbPath(), 'x'.repeat(8192))
      const r = await runToExit(cpArgs())
      expect(r).toEqual({
        code: 2,
        stderr: `nixfleet: control-plane: database ${dbPath()}: file is not a database\n`,
      })
    },
    TEST_TIMEOUT_MS
  )
})

/** Starts the CP (database at `db`), waits until it serves. */
async function startServing(db: string, extra: string[] = []): Promise<LoggedProcess> {
  const cp = spawnLogged(
    [bin, ...cpArgs(['--db-path', db, '--poll-interval-secs', '1', ...extra])],
    {
      HOME: lab.dir,
    }
  )
  await cp.waitForLog('listening', (l) => l['msg'] === 'listening')
  return cp
}

/** The exit code within `ms`, or 'hung' (the process is then killed). */
async function exitWithin(cp: LoggedProcess, ms: number): Promise<number | 'hung'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms)
  })
  const code = await Promise.race([cp.exited, hung])
  clearTimeout(timer)
  if (code === 'hung') cp.proc.kill('SIGKILL')
  return code
}

/** Whether a JSON error line names the database `db`. */
const namesDb =
  (db: string) =>
  (l: Record<string, unknown>): boolean =>
    l['level'] === 'error' && l['db'] === db

/** Fills the filesystem holding `dir` until it refuses another byte. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w')
  const chunk = new Uint8Array(64 * 1024)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOSPC') throw e
  } finally {
    closeSync(fd)
  }
}

async function sh(...argv: string[]): Promise<void> {
  const p = Bun.spawn(argv, { stdout: 'pipe', stderr: 'pipe' })
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()])
  if (code !== 0) throw new Error(`${argv.join(' ')} failed (${code}): ${err}`)
}

describe('a database failure while running exits 1', () => {
  test(
    'disk full: a JSON line names the database and the process exits',
    async () => {
      // A real full disk: a small tmpfs (the suite runs as root).
      const mnt = join(lab.dir, 'small')
      mkdirSync(mnt)
      await sh('mount', '-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt)
      try {
        const db = join(mnt, 'state.db')
        const cp = await startServing(db)
        fill(mnt)
        // The next poll adopts this release: a write the full disk refuses.
        const hosts = Object.fromEntries(
          Array.from({ length: 200 }, (_, i) => [`h${i}`, { channel: 'stable' }])
        )
        lab.publish({ hosts, channels: { stable: {} } }, { signedAt: Date.now() - 60_000 })
        expect(await exitWithin(cp, 10_000)).toBe(1)
        expect(await cp.waitForLog('the database error', namesDb(db), 0)).toMatchObject({
          error: expect.stringMatching(/full|disk|space/i),
        })
      } finally {
        await sh('umount', '-l', mnt)
      }
    },
    TEST_TIMEOUT_MS
  )

  test(
    'the database file deleted while running: noticed, exit 1 naming it',
    async () => {
      const cp = await startServing(dbPath())
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath()}${suffix}`, { force: true })
      expect(await exitWithin(cp, 10_000)).toBe(1)
      expect(await cp.waitForLog('the database error', namesDb(dbPath()), 0)).toMatchObject({
        error: expect.stringContaining('deleted'),
      })
    },
    TEST_TIMEOUT_MS
  )
})

describe('--check-config catches what start-up would fail on, and writes nothing', () => {
  const check = (extra: string[]) => runToExit([...cpArgs(extra), '--check-config'])
  const problem = (message: string) => ({
    code: 2,
    stderr: `nixfleet: control-plane: ${message}\n`,
  })

  test('a key that does not match the certificate', async () => {
    const key = join(lab.caDir, 'ca.key')
    expect(await check(['--tls-key', key])).toEqual(
      problem(`--tls-key ${key} does not match --tls-cert ${join(lab.caDir, 'server.pem')}`)
    )
  })

  test('a client certificate given as the server certificate', async () => {
    const cert = join(lab.dir, 'op.pem')
    const key = join(lab.dir, 'op.key')
    writeFileSync(cert, lab.operator.cert)
    writeFileSync(key, lab.operator.key)
    expect(await check(['--tls-cert', cert, '--tls-key', key])).toEqual(
      problem(
        `--tls-cert ${cert}: not a server certificate (extended key usage clientAuth, needs serverAuth)`
      )
    )
  })

  test('enrolment on, but no orgRootKey in the trust file to verify tokens with', async () => {
    const trust = JSON.parse(await Bun.file(lab.trustFile).text()) as Record<string, unknown>
    writeFileSync(lab.trustFile, JSON.stringify({ ...trust, orgRootKey: null }))
    const ca = [
      '--fleet-ca-cert',
      join(lab.caDir, 'ca.pem'),
      '--fleet-ca-key',
      join(lab.caDir, 'ca.key'),
    ]
    expect(await check(ca)).toEqual(
      problem(
        `trust file ${lab.trustFile} has no orgRootKey: enrolment (--fleet-ca-cert) cannot verify bootstrap tokens`
      )
    )
  })

  test('a database directory on a read-only filesystem', async () => {
    const mnt = join(lab.dir, 'ro')
    mkdirSync(mnt)
    await sh('mount', '-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mnt)
    try {
      const db = join(mnt, 'cp', 'state.db')
      expect(await check(['--db-path', db])).toEqual(
        problem(`--db-path ${db}: cannot write in ${mnt}: read-only file system`)
      )
    } finally {
      await sh('umount', '-l', mnt)
    }
  })

  test('a database file that is not one', async () => {
    writeFileSync(dbPath(), 'x'.repeat(8192))
    expect(await check([])).toEqual(problem(`database ${dbPath()}: file is not a database`))
  })

  test('a release without signatures', async () => {
    lab.publish({ hosts: { h1: { channel: 'stable' } }, channels: { stable: {} } })
    const sig = join(lab.releaseDir, 'fleet.resolved.json.sig')
    rmSync(sig)
    expect(await check([])).toEqual(
      problem(`--release-dir ${join(lab.dir, 'repo')}: fleet.resolved.json has no signature ${sig}`)
    )
  })

  test('a valid configuration creates no file', async () => {
    const db = join(lab.dir, 'fresh', 'cp', 'state.db')
    expect(await check(['--db-path', db])).toEqual({ code: 0, stderr: '' })
    expect(existsSync(join(lab.dir, 'fresh'))).toBe(false)
  })
})

// Real clock: the releases must be fresh. Whole seconds, as releases are stamped.
const T0 = Math.floor(Date.now() / 1000) * 1000 - 7200_000
const SPEC = { hosts: { h1: { channel: 'stable' } }, channels: { stable: {} } }

/** The first adoption or refusal of the fleet the CP logs. */
async function fleetOutcome(cp: LoggedProcess): Promise<Record<string, unknown>> {
  return cp.waitForLog(
    'the fleet adopted or refused',
    (l) =>
      l['msg'] === 'release adopted' ||
      (l['msg'] === 'signed artifact refused' && l['artifact'] === 'fleet')
  )
}

async function stopped(cp: LoggedProcess): Promise<void> {
  cp.proc.kill('SIGTERM')
  expect(await cp.exited).toBe(0)
}

/** A CP adopts a release of generation `gen` signed at `signedAt`, stops, and loses its database. */
async function adoptThenLoseDatabase(gen: number, signedAt: number): Promise<string> {
  const { ciCommit } = lab.publish(SPEC, { gen, signedAt })
  const first = await startServing(dbPath())
  expect(await fleetOutcome(first)).toMatchObject({ msg: 'release adopted', ciCommit })
  await stopped(first)
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath()}${suffix}`, { force: true })
  expect(existsSync(dbPath())).toBe(false)
  return ciCommit
}

describe('anti-rollback marks survive the loss of the database', () => {
  test('after the database is deleted, an older signed release is refused as Rollback', async () => {
    const newer = { ciCommit: await adoptThenLoseDatabase(2, T0 + 3600_000) }
    // A validly signed release an hour older than the one adopted (a replayed old directory).
    const older = lab.publish(SPEC, { gen: 1, signedAt: T0 })

    const second = await startServing(dbPath())
    const outcome = await fleetOutcome(second)
    expect(outcome).toMatchObject({ msg: 'signed artifact refused', kind: 'Rollback' })
    expect(String(outcome['message'])).toContain(
      `signed ${toRfc3339(T0, 'seconds')} (ciCommit ${older.ciCommit}), older than the adopted ${toRfc3339(T0 + 3600_000)}`
    )
    await stopped(second)
    // The marks file beside the database still holds the newer release's mark.
    const marks = JSON.parse(readFileSync(join(lab.dir, 'cp', 'state.marks.json'), 'utf8'))
    expect(marks.marks).toContainEqual(
      expect.objectContaining({ key: 'fleet', ciCommit: newer.ciCommit })
    )
  })

  test('a newer release after the database is deleted is adopted, and raises the marks', async () => {
    await adoptThenLoseDatabase(1, T0)
    const newer = lab.publish(SPEC, { gen: 2, signedAt: T0 + 3600_000 })
    const second = await startServing(dbPath())
    expect(await fleetOutcome(second)).toMatchObject({
      msg: 'release adopted',
      ciCommit: newer.ciCommit,
    })
    await stopped(second)
    const marks = JSON.parse(readFileSync(join(lab.dir, 'cp', 'state.marks.json'), 'utf8'))
    expect(marks.marks).toContainEqual(
      expect.objectContaining({ key: 'fleet', ciCommit: newer.ciCommit })
    )
  })

  test('an unreadable marks file stops the start with one line naming it (exit 2)', async () => {
    const file = join(lab.dir, 'cp', 'state.marks.json')
    writeFileSync(file, '{"schemaVersion":1,"marks":[')
    expect(await runToExit(cpArgs())).toEqual({
      code: 2,
      stderr: `nixfleet: control-plane: anti-rollback marks ${file}: not valid JSON\n`,
    })
  })
})
