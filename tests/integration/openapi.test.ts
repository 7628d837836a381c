/**
 * The API document: `GET /v1/openapi.json` (any fleet certificate, real mTLS) lists exactly the
 * routes the app registers, each with its method, role, request body schema and query
 * parameters; the route table of docs/control-plane.md lists each with its role.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROUTES, openApiPath } from '../../src/cp/http/openapi.ts'
import { REPO_ROOT } from '../support/binary.ts'
import { labPerTest, startCp, type FleetSpec } from './cp-support.ts'

const env = labPerTest()

const spec: FleetSpec = {
  hosts: { h1: { channel: 'stable' } },
  channels: { stable: { waves: [['h1']] } },
}

type Operation = {
  'x-nixfleet-role': string
  parameters?: { name: string; in: string }[]
  requestBody?: { content: { 'application/json': { schema: Record<string, unknown> } } }
}
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> }

describe('GET /v1/openapi.json', () => {
  test('documents exactly the routes the app registers, for any fleet certificate', async () => {
    env.lab.publish(spec)
    const t = (env.t = await startCp(env.lab))
    const registered = new Set(
      t.cp.app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method} ${openApiPath(r.path)}`)
    )
    const answer = await t.operator.send('GET', '/v1/openapi.json')
    expect(answer.status).toBe(200)
    const doc = answer.json() as Doc
    expect(doc.openapi).toBe('3.1.0')
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)
    )
    expect(documented.sort()).toEqual([...registered].sort())
    expect(ROUTES.length).toBe(registered.size)

    const agent = await t.agent('h1')
    expect((await agent.send('GET', '/v1/openapi.json')).status).toBe(200)
    expect((await t.anonymous().send('GET', '/v1/openapi.json')).status).toBe(401)

    // Roles, request bodies from the valibot schemas, path and query parameters.
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
    expect(doc.paths['/v1/rollouts/{id}/events']!.get!.parameters).toEqual([
      expect.objectContaining({ name: 'id', in: 'path' }),
      expect.objectContaining({ name: 'limit', in: 'query' }),
      expect.objectContaining({ name: 'after', in: 'query' }),
      expect.objectContaining({ name: 'host', in: 'query' }),
      expect.objectContaining({ name: 'kind', in: 'query' }),
      expect.objectContaining({ name: 'order', in: 'query' }),
    ])
    expect(doc.paths['/v1/openapi.json']!.get!['x-nixfleet-role']).toBe('agent, operator or viewer')
  })
})

test('docs/control-plane.md lists every route with its role', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'control-plane.md'), 'utf8')
  const missing = ROUTES.filter((r) => !doc.includes(`| ${r.method} | \`${r.path}\` | ${r.role} |`))
  expect(missing.map((r) => `${r.method} ${r.path}`)).toEqual([])
})
