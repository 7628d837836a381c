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
import { AgentClient } from '../../src/agent/cp-client.ts'
import { serveClosureProxy } from '../../src/agent/closure-proxy.ts'
import { createLogger } from '../../src/runtime/log.ts'
import { fetchInto, localCache, serveDir, type LocalCache } from '../support/binary-cache.ts'
import { labPerTest, startCp, twoWaves } from './cp-support.ts'

const env = labPerTest()

describe('closure proxy', () => {
  const root = mkdtempSync(join(tmpdir(), 'nixfleet-proxy-'))
  let http: ReturnType<typeof serveDir>
  let closure = ''
  let cacheDir = ''
  let cache: LocalCache
  beforeAll(async () => {
    cache = await localCache(root)
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

  test("a host's Nix substitutes through the agent's local proxy and the CP, checking the cache's key", async () => {
    env.lab.publish(twoWaves)
    const t = (env.t = await startCp(env.lab, { config: { closureUpstream: http.url } }))
    const tls = { ca: env.lab.ca.certPem, ...(await env.lab.agentCert('h1')) }
    const client = new AgentClient({
      baseUrls: [`https://localhost:${t.port}`],
      identity: () => tls,
      userAgent: 'nixfleet-agent/test',
    })
    const log = createLogger({ component: 'proxy-test', level: 'error' })
    const proxy = serveClosureProxy({
      listen: { hostname: '127.0.0.1', port: 0 },
      client,
      storeDir: '/nix/store',
      log,
    })
    try {
      const local = `http://127.0.0.1:${proxy.port}`
      expect(await (await fetch(`${local}/nix-cache-info`)).text()).toContain(
        'StoreDir: /nix/store'
      )
      expect((await fetch(`${local}/anything-else`)).status).toBe(404)
      const upstreamBefore = http.requests.length
      const ok = await fetchInto(
        local,
        join(root, 'host-a'),
        `/nix/store/${closure}`,
        cache.publicKey
      )
      expect(ok).toMatchObject({ code: 0 })
      expect(readFileSync(join(root, 'host-a', 'nix', 'store', closure), 'utf8')).toBe(
        'h1 release 1, proxied\n'
      )
      // It came through the CP from the upstream: the narinfo, then the NAR.
      const fetched = http.requests.slice(upstreamBefore).filter((r) => r.startsWith('GET '))
      expect(fetched).toContain(`GET /${narinfoName(closure)}`)
      expect(fetched.filter((r) => r.startsWith('GET /nar/'))).toHaveLength(1)
      // The proxy widens reach, not trust: a host that does not trust the cache's key refuses it.
      const otherKey = `other-cache:${cache.publicKey.split(':')[1]}`
      const refused = await fetchInto(
        local,
        join(root, 'host-b'),
        `/nix/store/${closure}`,
        otherKey
      )
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toContain('lacks a valid signature')
    } finally {
      proxy.stop()
    }
  })

  test("the agent's proxy answers 502 while the control plane cannot be reached", async () => {
    const closed = Bun.serve({ port: 0, fetch: () => new Response('') })
    const port = closed.port
    closed.stop(true)
    const proxy = serveClosureProxy({
      listen: { hostname: '127.0.0.1', port: 0 },
      client: new AgentClient({
        baseUrls: [`https://localhost:${port}`],
        identity: () => ({ ca: env.lab.ca.certPem }),
        userAgent: 'nixfleet-agent/test',
      }),
      storeDir: '/nix/store',
      log: createLogger({ component: 'proxy-test', level: 'error' }),
    })
    try {
      const r = await fetch(`http://127.0.0.1:${proxy.port}/${narinfoName(closure)}`)
      expect(r.status).toBe(502)
      expect(await r.text()).toBe('control plane unreachable\n')
    } finally {
      proxy.stop()
    }
  })
})
