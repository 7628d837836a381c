/**
 * The CP's closure proxy (`--closure-upstream`) against a real binary cache written by Nix and
 * served over HTTP: an agent certificate gets a closure's narinfo and the NAR it names, streamed
 * byte for byte; an operator certificate and a caller without one are refused before anything
 * reaches the cache; a NAR name that is not one is refused.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { narinfoName } from '../../src/runtime/binary-cache.ts'
import { localCache, serveDir } from '../support/binary-cache.ts'
import { labPerTest, startCp, twoWaves } from './cp-support.ts'

const env = labPerTest()

describe('closure proxy', () => {
  const root = mkdtempSync(join(tmpdir(), 'nixfleet-proxy-'))
  let http: ReturnType<typeof serveDir>
  let closure = ''
  let cacheDir = ''
  beforeAll(async () => {
    const cache = await localCache(root)
    const path = await cache.add('nixos-system-h1', 'h1 release 1, proxied')
    await cache.push(path)
    closure = basename(path)
    cacheDir = cache.dir
    http = serveDir(cache.dir)
  })
  afterAll(() => {
    http.stop()
    rmSync(root, { recursive: true, force: true })
  })

  test('an agent gets the narinfo and its NAR; an operator and an anonymous caller are refused', async () => {
    env.lab.publish(twoWaves)
    const t = (env.t = await startCp(env.lab, { config: { closureUpstream: http.url } }))
    const agent = await t.agent('h1')

    const info = await agent.send('GET', `/v1/agent/closure/${closure}`)
    expect(info.status).toBe(200)
    expect(info.text).toBe(readFileSync(join(cacheDir, narinfoName(closure)), 'utf8'))
    expect(info.text).toContain('Sig: test-cache-1:')
    const url = /^URL: (nar\/\S+)$/m.exec(info.text)?.[1]
    expect(url).toBeDefined()

    const nar = await agent.send('GET', `/v1/agent/closure/${url}`)
    expect(nar.status).toBe(200)
    // The client decodes bodies as text: the same decoding of the cache's file must match.
    expect(nar.text).toBe(readFileSync(join(cacheDir, url!)).toString('utf8'))
    expect(nar.headers['content-length']).toBe(String(readFileSync(join(cacheDir, url!)).length))

    const before = http.requests.length
    expect((await t.operator.send('GET', `/v1/agent/closure/${closure}`)).status).toBe(403)
    expect((await t.operator.send('GET', `/v1/agent/closure/${url}`)).status).toBe(403)
    expect((await t.anonymous().send('GET', `/v1/agent/closure/${closure}`)).status).toBe(401)
    expect((await agent.send('GET', '/v1/agent/closure/nar/..%2Fsecret')).status).toBe(400)
    expect((await agent.send('GET', '/v1/agent/closure/nar/abc.txt')).status).toBe(400)
    expect(http.requests.length).toBe(before)

    const gone = await agent.send('GET', `/v1/agent/closure/nar/${'0'.repeat(52)}.nar.xz`)
    expect(gone.status).toBe(404)
  })
})
