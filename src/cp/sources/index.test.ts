/**
 * Release fetching from URLs: the bearer token is read from its file on every fetch, so a
 * rotated token is used from the next poll on, without a restart (spec protocol.md §8.1: the
 * poller reads trust roots and token each tick).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ReleaseSource } from './index.ts'

let server: Server
let base = ''
let dir = ''
const seen: { path: string; auth: string | undefined }[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-sources-'))
  // node:http, not Bun.serve: other test files replace the global Response (see tests/support).
  server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', auth: req.headers.authorization })
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.end(req.url === '/fleet.json' ? '{"fleet":1}' : 'sig')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
})
afterAll(() => {
  server.close()
  rmSync(dir, { recursive: true, force: true })
})

test('a URL source re-reads its token file on every fetch (rotation without restart)', async () => {
  const tokenFile = join(dir, 'token')
  writeFileSync(tokenFile, 'first-token\n')
  const source = new ReleaseSource({
    fleet: {
      type: 'url',
      artifact: `${base}/fleet.json`,
      signature: `${base}/fleet.json.sig`,
      tokenFile,
    },
    rolloutsUrl: {
      artifact: `${base}/rollouts/{rolloutId}.json`,
      signature: `${base}/rollouts/{rolloutId}.json.sig`,
      tokenFile,
    },
  })
  const first = await source.fleet()
  expect(first.ok && new TextDecoder().decode(first.pair.bytes)).toBe('{"fleet":1}')
  writeFileSync(tokenFile, 'second-token\n')
  expect((await source.fleet()).ok).toBe(true)
  expect((await source.manifest(`stable@${'a'.repeat(40)}`)).ok).toBe(true)
  expect(seen.map((s) => s.auth)).toEqual([
    'Bearer first-token',
    'Bearer first-token',
    'Bearer second-token',
    'Bearer second-token',
    'Bearer second-token',
    'Bearer second-token',
  ])
  // A token file that went missing fails the fetch, naming the file, instead of going anonymous.
  rmSync(tokenFile)
  const gone = await source.fleet()
  expect(gone.ok).toBe(false)
  expect(!gone.ok && gone.message).toContain(tokenFile)
  expect(seen).toHaveLength(6)
})
