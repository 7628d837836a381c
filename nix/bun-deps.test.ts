/**
 * The Nix package pins its npm dependencies through nix/bun-deps.nix, generated from bun.lock.
 * These tests fail when bun.lock changes without regenerating it, and check that the generated
 * layout is the one `bun install` produces (so the Nix build bundles the same modules).
 */
import { describe, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { depsFromLock, expectedNix, OUT_PATH, renderNix } from './gen-bun-deps.ts'

const ROOT = resolve(import.meta.dir, '..')
const lockText = readFileSync(join(ROOT, 'bun.lock'), 'utf8')

describe('nix/bun-deps.nix', () => {
  test('matches bun.lock (regenerate with `bun nix/gen-bun-deps.ts`)', () => {
    expect(readFileSync(OUT_PATH, 'utf8')).toBe(expectedNix())
  })

  test('a changed bun.lock changes the expected file', () => {
    const bumped = lockText.replace('"hono@4.13.19"', '"hono@4.13.20"')
    expect(bumped).not.toBe(lockText)
    expect(renderNix(depsFromLock(bumped))).not.toBe(readFileSync(OUT_PATH, 'utf8'))
  })

  test('places every package where bun install puts it', () => {
    const deps = depsFromLock(lockText)
    const placed = deps.map((d) => {
      const manifest = join(ROOT, d.path, 'package.json')
      return {
        path: d.path,
        version: existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).version : null,
      }
    })
    expect(placed).toEqual(deps.map((d) => ({ path: d.path, version: d.version })))
  })

  test('marks only development-only packages as dev', () => {
    const byPath = new Map(depsFromLock(lockText).map((d) => [d.path, d]))
    expect(byPath.get('node_modules/hono')?.dev).toBe(false)
    expect(byPath.get('node_modules/@peculiar/x509')?.dev).toBe(false)
    expect(byPath.get('node_modules/tsyringe/node_modules/tslib')).toMatchObject({
      version: '1.14.1',
      dev: false,
    })
    expect(byPath.get('node_modules/typescript')?.dev).toBe(true)
    expect(byPath.get('node_modules/bun-types')?.dev).toBe(true)
    expect(byPath.get('node_modules/@hono/node-server')?.url).toBe(
      'https://registry.npmjs.org/@hono/node-server/-/node-server-2.1.9.tgz'
    )
  })

  test('refuses what it cannot pin instead of dropping it', () => {
    const git = lockText.replace('"hono@4.13.19", ""', '"hono@github:honojs/hono#abc", ""')
    expect(() => depsFromLock(git)).toThrow(/not a registry package/)
    const noHash = lockText.replace(/"sha512-KmXvQAX[^"]+"/, '""')
    expect(() => depsFromLock(noHash)).toThrow(/hono has no integrity hash/)
  })
})
