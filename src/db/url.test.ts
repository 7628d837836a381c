import { afterAll, describe, expect, test } from 'bun:test'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { databaseUrlOf, parseDatabaseUrl, passwordFileProblem } from './url.ts'

describe('parseDatabaseUrl accepts', () => {
  test.each([
    [
      'sqlite:///var/lib/nixfleet-cp/state.db',
      { kind: 'sqlite', path: '/var/lib/nixfleet-cp/state.db' },
    ],
    ['sqlite:///state.db', { kind: 'sqlite', path: '/state.db' }],
    ['sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
    [
      'postgres://nixfleet@db.example.org/nixfleet',
      { kind: 'postgres', url: 'postgres://nixfleet@db.example.org/nixfleet' },
    ],
    [
      'postgresql://nixfleet@db:5432/fleet',
      { kind: 'postgres', url: 'postgresql://nixfleet@db:5432/fleet' },
    ],
    [
      'postgres://cp@127.0.0.1:6543/nf?sslmode=disable',
      { kind: 'postgres', url: 'postgres://cp@127.0.0.1:6543/nf?sslmode=disable' },
    ],
    [
      'postgres://cp@[::1]:5432/nf?sslmode=verify-full',
      { kind: 'postgres', url: 'postgres://cp@[::1]:5432/nf?sslmode=verify-full' },
    ],
    ['postgres://cp@[fd00::5]/nf', { kind: 'postgres', url: 'postgres://cp@[fd00::5]/nf' }],
  ] as const)('%s', (url, target) => {
    expect(parseDatabaseUrl(url)).toEqual(target)
    expect(databaseUrlOf(parseDatabaseUrl(url))).toBe(url)
  })
})

describe('parseDatabaseUrl refuses, naming the bad part', () => {
  test.each([
    [
      'postgres://cp:hunter2@db/nf',
      'carries a password: put the password in --database-password-file',
    ],
    ['postgres://cp:@db/nf', 'carries a password'],
    ['mysql://cp@db/nf', "unknown database URL scheme 'mysql:'"],
    ['file:///tmp/x.db', "unknown database URL scheme 'file:'"],
    ['/var/lib/state.db', 'database URL has no scheme'],
    ['state.db', 'database URL has no scheme'],
    ['sqlite:state.db', "sqlite path 'state.db' is not absolute"],
    ['sqlite:./state.db', "sqlite path './state.db' is not absolute"],
    ['sqlite://state.db', "sqlite URL names a host ('state.db')"],
    ['sqlite:///var/lib/', 'sqlite path /var/lib/ names a directory'],
    ['sqlite:///', 'sqlite path / names a directory'],
    ['sqlite:///x.db?mode=ro', "sqlite URL takes no query or fragment ('?mode=ro')"],
    ['postgres://cp@db', 'postgres URL names no database'],
    ['postgres://cp@db/', 'postgres URL names no database'],
    ['postgres://cp@db:5432', 'postgres URL names no database'],
    ['postgres://cp@db/a/b', "database name 'a/b' contains a slash"],
    ['postgres://cp@db:99999/nf', "postgres URL port '99999' is not a number from 1 to 65535"],
    ['postgres://cp@db:0/nf', "postgres URL port '0'"],
    ['postgres://cp@db:pg/nf', "postgres URL port 'pg'"],
    ['postgres://cp@db:/nf', "postgres URL port ''"],
    ['postgres://db/nf', 'postgres URL names no user'],
    ['postgres://@db/nf', 'postgres URL names no user'],
    ['postgres://cp@/nf', 'postgres URL names no host'],
    ['postgres://cp@db host/nf', "postgres URL host 'db host'"],
    ['postgres:db/nf', 'postgres URL must start with postgres://'],
    ['postgres://cp@db/nf?sslmode=maybe', "postgres URL sslmode 'maybe' is not one of"],
    ['postgres://cp@db/nf?password=x', "postgres URL parameter 'password' is not supported"],
    ['postgres://cp@db/nf#x', 'postgres URL takes no fragment'],
  ])('%s', (url, message) => {
    expect(() => parseDatabaseUrl(url)).toThrow(message)
  })

  test('a refusal never repeats the password', () => {
    for (const url of [
      'postgres://cp:s3cret@db/nf',
      'postgres://cp:s3cret@db:99999/nf',
      'postgres://cp:s3cret@db',
      'postgresql://cp:s3cret@/nf?sslmode=bad',
    ]) {
      let message = ''
      try {
        parseDatabaseUrl(url)
      } catch (e) {
        message = (e as Error).message
      }
      expect(message).toContain('carries a password')
      expect(message).not.toContain('s3cret')
    }
  })
})

describe('passwordFileProblem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nixfleet-url-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, mode: number): string => {
    const p = join(dir, name)
    writeFileSync(p, 'secret\n')
    chmodSync(p, mode)
    return p
  }

  test('a file only its owner (and group) can read is fine', () => {
    expect(passwordFileProblem(file('owner', 0o600))).toBeUndefined()
    expect(passwordFileProblem(file('group', 0o640))).toBeUndefined()
  })
  test('a world-readable file is refused with its mode', () => {
    expect(passwordFileProblem(file('world', 0o644))).toBe(
      'readable by every user (mode 0644); chmod o-r it'
    )
  })
  test('a missing file or a directory is refused', () => {
    expect(passwordFileProblem(join(dir, 'absent'))).toBe('no such file')
    expect(passwordFileProblem(dir)).toBe('not a regular file')
  })
})
