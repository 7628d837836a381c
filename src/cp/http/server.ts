/**
 * The CP's listener: the Hono app behind the mTLS server (`@hono/node-server`'s request
 * listener), and the peer identity routes read from the socket's verified client certificate.
 * Invariants: a socket's identity is read once per connection (renegotiation is disabled, so it
 * cannot change); responses go out without Nagle's delay.
 */
import type { HttpBindings } from '@hono/node-server'
import { getRequestListener } from '@hono/node-server'
import type { Context } from 'hono'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import {
  createMtlsServer,
  peerIdentity,
  type MtlsLimits,
  type MtlsServer,
  type PeerIdentity,
  type RefusedReason,
} from '../../pki/tls-server.ts'
import type { CpConfig } from '../config.ts'

// Ordinary requests finish in milliseconds and long-polls end at once on shutdown; three
// seconds leaves the mutator drain and database close inside the 5 s stop budget.
const CLOSE_GRACE_MS = 3_000

// `getPeerCertificate()` builds a whole certificate object on every call: one read per socket.
const identities = new WeakMap<object, PeerIdentity | null>()
function socketIdentity(req: IncomingMessage): PeerIdentity | undefined {
  const socket = req.socket as object | null
  if (socket === null) return undefined
  let id = identities.get(socket)
  if (id === undefined) identities.set(socket, (id = peerIdentity(req) ?? null))
  return id ?? undefined
}

/** The verified client certificate of a request served by `createCpServer`. */
export function peerOf(c: Context): PeerIdentity | undefined {
  return socketIdentity((c.env as HttpBindings).incoming)
}

/**
 * The mTLS server running `fetch` (nothing listens until `listen()`). `lightweightResponses`
 * lets `@hono/node-server` replace the process's global `Request`/`Response` (see `CpOptions`).
 */
export function createCpServer(
  fetch: Parameters<typeof getRequestListener>[0],
  tls: CpConfig['tls'],
  lightweightResponses: boolean,
  guard: {
    readonly limits: MtlsLimits
    readonly onRefused: (reason: RefusedReason) => void
    readonly onListenerError: (err: Error) => void
  }
): MtlsServer {
  const server = createMtlsServer({
    certPem: tls.certPem,
    keyPem: tls.keyPem,
    caPem: tls.clientCaPem,
    handler: getRequestListener(fetch, { overrideGlobalObjects: lightweightResponses }),
    closeGraceMs: CLOSE_GRACE_MS,
    ...guard,
  })
  // Responses are written in more than one segment (headers, then the body); with Nagle on, the
  // second waits for the client's delayed ACK (~40 ms). Agents' requests are latency-bound.
  server.httpServer.on('connection', (socket: Socket) => socket.setNoDelay?.(true))
  return server
}
