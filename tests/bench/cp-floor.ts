/**
 * The transport floor of `bun run bench:cp -- --floor`: a bare Hono app behind the CP's own mTLS
 * listener (`createCpServer`: the same `node:tls` options, Nagle off, `@hono/node-server` with
 * lightweight responses, the same connection limits as the benchmark gives the CP), run as its
 * own process so its RSS and CPU are measured like the CP's. It holds no state: a heartbeat
 * from a verified client certificate gets one fixed, schema-valid reply; a long-poll is held for
 * the wait asked (ending in the last sixteenth of it, as the CP's do, so the simulated fleet's
 * request pattern is the same) and answers 204. What the CP measures above this is the cost of
 * being a control plane rather than a TLS endpoint.
 * Bounded: exits on SIGTERM, when its stdin closes (the orchestrator is gone), or after
 * `maxSeconds`. Argument: a JSON config file ({ port, certPem, keyPem, caPem, maxSeconds }).
 */
import type { HttpBindings } from '@hono/node-server'
import { Hono } from 'hono'
import { readFileSync } from 'node:fs'
import * as v from 'valibot'
import { cpLimits } from '../../src/cp/config.ts'
import { createCpServer, peerOf } from '../../src/cp/http/server.ts'
import { HeartbeatResponseSchema } from '../../src/proto/agent.ts'
import { toRfc3339 } from '../../src/proto/common.ts'

/** The floor server's configuration file. */
export type FloorConfig = {
  port: number
  certPem: string
  keyPem: string
  caPem: string
  maxSeconds: number
}

// The CP's clamp on a long-poll's wait (seconds).
const MAX_WAIT_SECS = 60

const cfg = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FloorConfig
setTimeout(() => process.exit(3), cfg.maxSeconds * 1000).unref()
process.on('SIGTERM', () => process.exit(0))

const REPLY = v.parse(HeartbeatResponseSchema, { received_at: toRfc3339(Date.now()) })

const app = new Hono<{ Bindings: HttpBindings }>()
app.get('/healthz', (c) => c.json({ ready: true }))
app.post('/v1/agent/heartbeat', async (c) => {
  if (peerOf(c) === undefined) return c.json({ error: 'client certificate required' }, 401)
  await c.req.text()
  return c.json(REPLY, 200)
})
app.get('/v1/agent/dispatch', async (c) => {
  if (peerOf(c) === undefined) return c.json({ error: 'client certificate required' }, 401)
  const wait = Math.min(Number(c.req.query('wait') ?? MAX_WAIT_SECS) || 0, MAX_WAIT_SECS)
  await Bun.sleep(wait * 1000 * (1 - Math.random() / 16))
  return c.body(null, 204)
})

const server = createCpServer(
  app.fetch,
  { certPem: cfg.certPem, keyPem: cfg.keyPem, clientCaPem: cfg.caPem },
  true,
  {
    // As the benchmark starts the CP: every simulated agent connects from 127.0.0.1.
    limits: cpLimits({ maxAnonymousPerAddress: 100_000 }),
    onRefused: () => {},
    onListenerError: () => {},
  }
)
await server.listen('127.0.0.1', cfg.port)
// stdin closed: the orchestrator is gone.
for await (const _ of process.stdin) {
  // nothing is sent; the loop ends at end of input
}
process.exit(0)
