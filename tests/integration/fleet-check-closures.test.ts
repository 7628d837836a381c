/**
 * `nixfleet fleet check --closures FILE --cache URL` against a real binary cache written by Nix
 * (`nix copy --to file://…`, signed), as CI runs it before signing: every closure there exits 0;
 * a missing one exits 1 naming the host, the closure and what to push; an unreachable cache
 * exits 2 (not a verdict); the two flags go together.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { localCache, serveDir, type LocalCache } from '../support/binary-cache.ts'
import { REPO_ROOT, runNixfleet } from '../support/binary.ts'

const FLEET = join(REPO_ROOT, 'nix', 'tests', 'mk-fleet', 'fixtures', 'template.resolved.json')

const nf = runNixfleet

describe('fleet check --closures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nixfleet-closures-'))
  const closuresFile = join(dir, 'closures.json')
  let cache: LocalCache
  const paths: Record<string, string> = {}
  beforeAll(async () => {
    cache = await localCache(dir)
    for (const h of ['cp', 'web-01', 'web-02'])
      paths[h] = await cache.add(`nixos-system-${h}`, `${h} release 1`)
    writeFileSync(closuresFile, JSON.stringify(paths))
    await cache.push(paths['cp']!)
    await cache.push(paths['web-02']!)
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const check = (url: string, json = false) =>
    nf([
      'fleet',
      'check',
      FLEET,
      '--closures',
      closuresFile,
      '--cache',
      url,
      ...(json ? ['--json'] : []),
    ])

  test('a closure not pushed exits 1, listed with what to push; once pushed, 0', async () => {
    const web01 = paths['web-01']!.slice('/nix/store/'.length)
    const r = await check(cache.url)
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' })
    expect(r.stdout).toEndWith(
      `closures: 2 of 3 in ${cache.url}\n` +
        `  MISSING web-01: ${web01} not in ${cache.url}; push it with nix copy\n`
    )
    const j = JSON.parse((await check(cache.url, true)).stdout)
    expect([j.ok, j.closures.missing]).toEqual([false, [{ host: 'web-01', closure: web01 }]])

    await cache.push(paths['web-01']!)
    const http = serveDir(cache.dir)
    try {
      const ok = await check(http.url)
      expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' })
      expect(ok.stdout).toEndWith(`closures: 3 of 3 in ${http.url}\n`)
    } finally {
      http.stop()
    }
  })

  test('an unreachable cache exits 2 (unchecked, not missing); --closures needs --cache', async () => {
    const down = Bun.serve({ port: 0, fetch: () => new Response('', { status: 502 }) })
    const url = `http://127.0.0.1:${down.port}`
    const r = await check(url)
    down.stop(true)
    expect(r.code).toBe(2)
    expect(r.stdout).toContain(`closures: 0 of 3 in ${url}\n  UNCHECKED cp: `)
    const alone = await nf(['fleet', 'check', FLEET, '--closures', closuresFile])
    expect(alone.code).toBe(2)
    expect(alone.stderr).toContain('--closures and --cache go together')
  })
})
