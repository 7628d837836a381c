/**
 * `GET /v1/stream` through `app.request()` on the real control plane (mutator, SQLite, release
 * directory): operators only; the first message is a `snapshot` of `{channels, hosts}` with an
 * id; a committed change (a new release adopted) pushes a `change` with a later id; at most
 * `MAX_SUBSCRIBERS` streams are open at once.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { parseSseBlock, type StreamEvent } from '../../src/cli/operator-client.ts'
import { createControlPlane, type ControlPlane } from '../../src/cp/main.ts'
import { MAX_SUBSCRIBERS } from '../../src/cp/http/routes/stream.ts'
import { FakeClock } from '../../src/runtime/clock.ts'
import { createLogger } from '../../src/runtime/log.ts'
import { eventually, Lab, T0, type FleetSpec } from './cp-support.ts'

const OP = 'operator-alice'
const spec: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
  channels: { stable: { waves: [['h1'], ['h2']] } },
}

let lab: Lab
let cp: ControlPlane

beforeAll(async () => {
  lab = await Lab.create()
  lab.publish(spec)
  cp = await createControlPlane(
    lab.config({
      database: { kind: 'sqlite', path: ':memory:' },
      strict: false,
      sources: { releaseDir: `${lab.dir}/repo` },
    }),
    {
      clock: new FakeClock(T0 + 60_000),
      log: createLogger({ component: 't', level: 'error' }),
      version: 'test',
      identify: (c) => {
        const cn = c.req.header('x-test-cn')
        return cn === undefined
          ? undefined
          : { cn, notBeforeMs: T0, notAfterMs: T0 + 86_400_000, serialHex: '1', authorized: true }
      },
    }
  )
})
afterAll(async () => {
  await cp.stop()
  lab.cleanup()
})

const open = (cn: string | undefined) =>
  cp.app.request('/v1/stream', { headers: cn === undefined ? {} : { 'x-test-cn': cn } })

/** The SSE messages of a response, read on demand; `close` cancels the stream. */
function sse(res: { body: ReadableStream<Uint8Array> | null }) {
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  const ready: StreamEvent[] = []
  let buffer = ''
  return {
    async next(): Promise<StreamEvent> {
      while (ready.length === 0) {
        const { value, done } = await reader.read()
        if (done) throw new Error('stream ended')
        buffer += decoder.decode(value, { stream: true })
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const e = parseSseBlock(buffer.slice(0, end))
          buffer = buffer.slice(end + 2)
          if (e) ready.push(e)
        }
      }
      return ready.shift()!
    },
    close: () => reader.cancel(),
  }
}

describe('GET /v1/stream', () => {
  test('operators only', async () => {
    expect((await open(undefined)).status).toBe(401)
    expect((await open('agent-h1.fleet.test')).status).toBe(403)
  })

  test('a snapshot first, then a change with a later id when a new release is adopted', async () => {
    const res = await open(OP)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const stream = sse(res)
    const snapshot = await stream.next()
    expect(snapshot.event).toBe('snapshot')
    const first = JSON.parse(snapshot.data) as {
      channels: { name: string }[]
      hosts: { hostname: string }[]
    }
    expect(first.channels.map((c) => c.name)).toEqual(['stable'])
    expect(first.hosts.map((h) => h.hostname)).toEqual(['h1', 'h2'])

    const next = stream.next()
    lab.publish(spec, { gen: 2, signedAt: T0 + 1000 })
    const refreshed = await cp.app.request('/v1/operator/refresh', {
      method: 'POST',
      headers: { 'x-test-cn': OP },
    })
    expect(refreshed.status).toBe(200)
    const change = await next
    expect(change.event).toBe('change')
    expect(Number(change.id)).toBeGreaterThan(Number(snapshot.id))
    expect(change.data).toContain('2'.padStart(40, 'a'))
    await stream.close()
  })

  test(`at most ${MAX_SUBSCRIBERS} streams at once`, async () => {
    const opened = await Promise.all(Array.from({ length: MAX_SUBSCRIBERS }, () => open(OP)))
    for (const r of opened) expect(r.status).toBe(200)
    const streams = opened.map(sse)
    for (const s of streams) expect((await s.next()).event).toBe('snapshot')
    expect((await open(OP)).status).toBe(503)
    // A closed stream frees its place.
    await streams[0]!.close()
    const again = await eventually(async () => {
      const r = await open(OP)
      return r.status === 200 ? r : undefined
    })
    await sse(again).close()
    for (const s of streams.slice(1)) await s.close()
  })
})
