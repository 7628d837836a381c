/**
 * The narinfo check against a real binary cache made by Nix (signed, `file://`, and the same
 * directory over HTTP): a pushed closure is present, an unpushed one missing, an unreachable
 * or broken cache an error (never missing); bounded concurrency over many closures.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { localCache, serveDir, type LocalCache } from '../../tests/support/binary-cache.ts'
import { checkAll, checkNarinfo, narinfoName } from './binary-cache.ts'

describe('binary cache check', () => {
  const root = mkdtempSync(join(tmpdir(), 'nixfleet-cache-'))
  let cache: LocalCache
  let http: ReturnType<typeof serveDir>
  let pushed = ''
  let unpushed = ''
  beforeAll(async () => {
    cache = await localCache(root)
    pushed = basename(await cache.add('nixos-system-web-01', 'web-01 r1'))
    unpushed = basename(await cache.add('nixos-system-web-02', 'web-02 r1'))
    await cache.push(`/nix/store/${pushed}`)
    http = serveDir(cache.dir)
  })
  afterAll(() => {
    http.stop()
    rmSync(root, { recursive: true, force: true })
  })

  test('the cache Nix wrote holds a signed narinfo for the pushed closure', () => {
    const text = readFileSync(join(cache.dir, narinfoName(pushed)), 'utf8')
    expect(text).toContain(`StorePath: /nix/store/${pushed}`)
    expect(text).toContain(`Sig: ${cache.publicKey.split(':')[0]}:`)
  })

  test('file:// and http: present once pushed, missing before', async () => {
    for (const url of [cache.url, http.url, `${http.url}/`]) {
      expect(await checkNarinfo(url, pushed, 5000)).toEqual({ status: 'present' })
      expect(await checkNarinfo(url, unpushed, 5000)).toEqual({ status: 'missing' })
    }
    expect(http.requests).toContain(`HEAD /${narinfoName(pushed)}`)
  })

  test('an unreachable cache, a server error or an unknown scheme is an error, not missing', async () => {
    const down = Bun.serve({ port: 0, fetch: () => new Response('no', { status: 500 }) })
    const downUrl = `http://127.0.0.1:${down.port}`
    expect(await checkNarinfo(downUrl, pushed, 5000)).toMatchObject({
      status: 'error',
      message: expect.stringContaining('answered 500'),
    })
    down.stop(true)
    expect((await checkNarinfo(downUrl, pushed, 2000)).status).toBe('error')
    expect((await checkNarinfo('s3://bucket', pushed, 2000)).status).toBe('error')
  })

  test('checkAll answers every closure with at most `concurrency` requests at once', async () => {
    let open = 0
    let most = 0
    const slow = Bun.serve({
      port: 0,
      async fetch() {
        most = Math.max(most, ++open)
        await Bun.sleep(20)
        open--
        return new Response(null, { status: 404 })
      },
    })
    const closures = Array.from({ length: 10 }, (_, i) => `${String(i).padStart(32, '0')}-x`)
    const seen: string[] = []
    await checkAll(
      `http://127.0.0.1:${slow.port}`,
      closures,
      { concurrency: 3, timeoutMs: 5000 },
      (c, r) => {
        expect(r.status).toBe('missing')
        seen.push(c)
      }
    )
    slow.stop(true)
    expect(seen.sort()).toEqual(closures)
    expect(most).toBe(3)
  })
})
