/**
 * The API document: `GET /v1/openapi.json` (any fleet certificate) lists exactly the routes the
 * app registers, each with its method, role, request body schema and query parameters; the
 * route table of docs/control-plane.md lists each with its role.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createControlPlane, type ControlPlane } from '../../src/cp/main.ts'
import { ROUTES, openApiPath } from '../../src/cp/http/openapi.ts'
import { FakeClock } from '../../src/runtime/clock.ts'
import { createLogger } from '../../src/runtime/log.ts'
import { REPO_ROOT } from '../support/binary.ts'
import { Lab, T0, type FleetSpec } from './cp-support.ts'

const OP = 'operator-alice'
const AGENT = 'agent-h1.fleet.test'

let lab: Lab
let cp: ControlPlane

const spec: FleetSpec = {
  hosts: { h1: { channel: 'stable' } },
  channels: { stable: { waves: [['h1']] } },
}

beforeAll(async () => {
  lab = await Lab.create()
  lab.publish(spec)
  cp = await createControlPlane(
    lab.config({ dbPath: ':memory:', sources: { releaseDir: `${lab.dir}/repo` } }),
    {
      clock: new FakeClock(T0 + 60_000),
      log: createLogger({ component: 't', level: 'error' }),
      version: 'test',
      identify: (c) => {
        const cn = c.req.header('x-test-cn')
        if (cn === undefined) return undefined
        return {
          cn,
          notBeforeMs: T0,
          notAfterMs: T0 + 86_400_000,
          serialHex: '1',
          authorized: true,
        }
      },
    }
  )
  await cp.poller.refresh()
})

afterAll(async () => {
  await cp?.stop()
  lab?.cleanup()
})

type Doc = {
  openapi: string
  paths: Record<
    string,
    Record<
      string,
      {
        'x-nixfleet-role': string
        parameters?: { name: string; in: string }[]
        requestBody?: { content: { 'application/json': { schema: Record<string, unknown> } } }
      }
    >
  >
}

const get = (cn?: string) =>
  cp.app.request('/v1/openapi.json', { headers: cn === undefined ? {} : { 'x-test-cn': cn } })

describe('GET /v1/openapi.json', () => {
  test('every route the app registers is documented, and nothing else', async () => {
    const registered = new Set(
      cp.app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method} ${openApiPath(r.path)}`)
    )
    const doc = (await (await get(OP)).json()) as Doc
    expect(doc.openapi).toBe('3.1.0')
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)
      )
    )
    expect([...documented].sort()).toEqual([...registered].sort())
    expect(ROUTES.length).toBe(registered.size)
  })

  test('roles, request bodies from the valibot schemas, path and query parameters', async () => {
    const doc = (await (await get(AGENT)).json()) as Doc
    const clear = doc.paths['/v1/operator/quarantines/clear']!.post!
    expect(clear['x-nixfleet-role']).toBe('operator')
    expect(clear.requestBody!.content['application/json'].schema).toMatchObject({
      type: 'object',
      required: ['channel', 'closure', 'reason'],
      additionalProperties: false,
    })
    const heartbeat = doc.paths['/v1/agent/heartbeat']!.post!
    expect(heartbeat['x-nixfleet-role']).toBe('agent')
    expect(heartbeat.requestBody!.content['application/json'].schema).toMatchObject({
      type: 'object',
    })
    const events = doc.paths['/v1/rollouts/{id}/events']!.get!
    expect(events.parameters).toEqual([
      expect.objectContaining({ name: 'id', in: 'path' }),
      expect.objectContaining({ name: 'limit', in: 'query' }),
    ])
    expect(doc.paths['/v1/openapi.json']!.get!['x-nixfleet-role']).toBe('agent or operator')
  })

  test('any fleet certificate may read it; none is 401', async () => {
    expect((await get(OP)).status).toBe(200)
    expect((await get(AGENT)).status).toBe(200)
    expect((await get()).status).toBe(401)
  })
})

test('docs/control-plane.md lists every route with its role', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'control-plane.md'), 'utf8')
  const missing = ROUTES.filter((r) => !doc.includes(`| ${r.method} | \`${r.path}\` | ${r.role} |`))
  expect(missing.map((r) => `${r.method} ${r.path}`)).toEqual([])
})
