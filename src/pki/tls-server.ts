/**
 * The CP's mTLS listener (DECISIONS §5): `node:tls` terminates TLS and asks for a client
 * certificate, then hands each TLS socket to a `node:http` server so handlers can read the peer
 * certificate from `req.socket` (`Bun.serve` cannot expose it).
 * Invariants:
 * - the handshake accepts clients without a certificate (`/v1/enroll`), so identity is decided
 *   per request by `peerIdentity`, which yields nothing unless OpenSSL verified the chain
 *   against the fleet CA (`authorized`); a certificate from any other CA is no identity;
 * - TLS renegotiation is disabled per socket, so a socket's identity cannot change mid-stream;
 * - `close()` stops accepting at once, aborts `closing` (long-poll handlers answer early), drops
 *   idle keep-alive and mid-handshake sockets immediately, lets busy sockets finish their
 *   current response, and destroys whatever is left after the grace period.
 */
import { createServer as createHttpServer } from 'node:http'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'

/** A request handler as `node:http` (and `@hono/node-server`'s listener) takes it. */
export type MtlsHandler = (req: IncomingMessage, res: ServerResponse) => void

/** The verified client identity of a request. */
export type PeerIdentity = {
  readonly cn: string
  readonly notBeforeMs: number
  readonly notAfterMs: number
  /** Lowercase hex, no leading zeros. */
  readonly serialHex: string
  /** Always true: unverified certificates yield no identity at all. */
  readonly authorized: true
}

/** A running (or not yet listening) mTLS server. */
export type MtlsServer = {
  readonly httpServer: HttpServer
  /** Aborted when `close()` starts; long-poll handlers should answer (e.g. 204) at once. */
  readonly closing: AbortSignal
  listen(host: string, port: number): Promise<{ port: number }>
  close(): Promise<void>
}

// Ordinary requests finish in milliseconds and long-polls answer as soon as `closing` aborts;
// five seconds leaves room for a slow DB write while staying far below systemd's 90 s stop timeout.
const DEFAULT_CLOSE_GRACE_MS = 5_000
// A client that has not finished its handshake in 10 s is stalled or hostile; Node's default
// (120 s) would let idle half-open connections pile up against the 10k-agent target.
const HANDSHAKE_TIMEOUT_MS = 10_000

/** Creates the mTLS server; nothing listens until `listen()`. */
export function createMtlsServer(opts: {
  certPem: string
  keyPem: string
  caPem: string
  handler: MtlsHandler
  closeGraceMs?: number
}): MtlsServer {
  const graceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS
  const closingController = new AbortController()
  // Every open connection (handshaking or established), and the in-flight request count of
  // established ones. Bun's tls.Server emits the TLSSocket itself for 'connection', so both
  // collections hold the same objects that handlers see as `req.socket`.
  const sockets = new Set<Socket>()
  const inFlight = new Map<Socket, number>()
  let closePromise: Promise<void> | undefined
  let allGone: (() => void) | undefined

  const httpServer = createHttpServer()
  // Registered before the handler so the count is up before the handler can respond.
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1)
    if (closingController.signal.aborted) res.setHeader('Connection', 'close')
    res.once('close', () => {
      const left = (inFlight.get(socket) ?? 1) - 1
      inFlight.set(socket, left)
      if (left === 0 && closingController.signal.aborted) socket.destroy()
    })
  })
  httpServer.on('request', opts.handler)

  const tlsServer = createTlsServer(
    {
      cert: opts.certPem,
      key: opts.keyPem,
      ca: opts.caPem,
      requestCert: true,
      // Policy: unauthenticated clients may complete the handshake (enrollment); each route
      // decides through peerIdentity.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    },
    (socket: TLSSocket) => {
      if (closingController.signal.aborted) {
        socket.destroy()
        return
      }
      // TLS 1.2 clients could otherwise renegotiate with another certificate mid-connection.
      socket.disableRenegotiation()
      httpServer.emit('connection', socket)
    }
  )
  tlsServer.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      inFlight.delete(socket)
      if (closingController.signal.aborted && sockets.size === 0) allGone?.()
    })
  })
  // A failed handshake (bad client, scanner) is the client's problem; never crash the CP.
  tlsServer.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy())

  return {
    httpServer,
    closing: closingController.signal,
    listen(host: string, port: number): Promise<{ port: number }> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err)
        tlsServer.once('error', onError)
        tlsServer.listen(port, host, () => {
          tlsServer.off('error', onError)
          const addr = tlsServer.address()
          resolve({ port: typeof addr === 'object' && addr ? addr.port : port })
        })
      })
    },
    close(): Promise<void> {
      if (closePromise) return closePromise
      closingController.abort()
      const stopListening = new Promise<void>((done) => {
        if (!tlsServer.listening) return done()
        tlsServer.close(() => done())
      })
      const drained = new Promise<void>((done) => {
        allGone = done
      })
      // Idle keep-alive and mid-handshake sockets go now; busy ones after their response.
      for (const socket of sockets) if ((inFlight.get(socket) ?? 0) === 0) socket.destroy()
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy()
      }, graceMs)
      if (sockets.size === 0) allGone?.()
      closePromise = Promise.all([stopListening, drained]).then(() => clearTimeout(timer))
      return closePromise
    },
  }
}

/** The lowercase hex of a serial as OpenSSL prints it, without leading zeros. */
function normalizeSerial(serial: string): string {
  const h = serial.toLowerCase().replace(/^0+/, '')
  return h === '' ? '0' : h
}

/** The verified client-certificate identity of `req`, or `undefined` (none, or not verified). */
export function peerIdentity(req: { readonly socket: unknown }): PeerIdentity | undefined {
  const socket = req.socket as Partial<TLSSocket> | null | undefined
  if (!socket || typeof socket.getPeerCertificate !== 'function') return undefined
  // Policy: only a chain OpenSSL verified against the fleet CA (validity dates and clientAuth
  // purpose included) is an identity; everything else is anonymous.
  if (socket.authorized !== true) return undefined
  const pc = socket.getPeerCertificate(false)
  if (!pc || !pc.subject) return undefined
  const cn: unknown = pc.subject.CN
  // A multi-valued CN arrives as an array: ambiguous, so not an identity.
  if (typeof cn !== 'string' || cn.length === 0) return undefined
  const notBeforeMs = Date.parse(pc.valid_from)
  const notAfterMs = Date.parse(pc.valid_to)
  if (!Number.isFinite(notBeforeMs) || !Number.isFinite(notAfterMs)) return undefined
  return {
    cn,
    notBeforeMs,
    notAfterMs,
    serialHex: normalizeSerial(pc.serialNumber ?? ''),
    authorized: true,
  }
}
