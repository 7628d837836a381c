/**
 * The CP's mTLS listener (DECISIONS §5): `node:tls` terminates TLS and asks for a client
 * certificate, then hands each TLS socket to a `node:http` server so handlers can read the peer
 * certificate from `req.socket` (`Bun.serve` cannot expose it).
 * Invariants:
 * - the handshake accepts clients without a certificate (`/v1/enroll`), so identity is decided
 *   per request by `peerIdentity`, which yields nothing unless OpenSSL verified the chain
 *   against the fleet CA (`authorized`); a certificate from any other CA is no identity;
 * - TLS renegotiation is disabled per socket, so a socket's identity cannot change mid-stream;
 * - this module owns connection lifetimes, because Bun's `node:http` enforces none of its
 *   timeouts (keepAliveTimeout, headersTimeout) on sockets handed in with `emit('connection')`:
 *   a handshake must finish within `handshakeTimeoutMs`; a connection with no request in
 *   flight is destroyed after `idleTimeoutMs` with a verified client certificate and after
 *   `headersTimeoutMs` without one; a request whose body has not fully arrived
 *   `bodyTimeoutMs` after its head is destroyed (a long-poll, whose request is complete, is not);
 * - what a peer without a certificate can hold is capped: at most `maxPendingHandshakes`
 *   handshakes in progress over all peers, and at most `maxAnonymousPerAddress` connections
 *   without a verified certificate per source address; beyond either, a new connection is
 *   closed at once (authenticated agents behind one NAT address are not counted);
 * - the listener keeps accepting when the process runs out of descriptors (EMFILE): the failed
 *   accept is the kernel's backlog, not an error of the server;
 * - `close()` stops accepting at once, aborts `closing` (long-poll handlers answer early), drops
 *   idle and mid-handshake sockets immediately, lets busy sockets finish their current
 *   response, and destroys whatever is left after the grace period.
 * Bun-specific: Bun's `tls.Server` emits the TLSSocket itself for 'connection' (Node emits the
 * raw TCP socket), so one map keyed by socket serves both the listener and `req.socket`.
 */
import { createServer as createHttpServer } from 'node:http'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'

/** A request handler as `node:http` (and `@hono/node-server`'s listener) takes it. */
export type MtlsHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

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
  /** The number of open client connections (for a metrics gauge). */
  connectionCount(): number
  listen(host: string, port: number): Promise<{ port: number }>
  close(): Promise<void>
}

// Ordinary requests finish in milliseconds and long-polls answer as soon as `closing` aborts;
// five seconds leaves room for a slow DB write while staying far below systemd's 90 s stop timeout.
const DEFAULT_CLOSE_GRACE_MS = 5_000
// Agents poll and heartbeat at least once a minute over one kept-alive connection; 120 s keeps
// that TLS session (no handshake churn at 10k agents) and still reaps dead or silent peers
// within minutes.
const DEFAULT_IDLE_TIMEOUT_MS = 120_000

/** What a peer may hold, and for how long (defaults: the CP's, `cp/config.ts`). */
export type MtlsLimits = {
  readonly handshakeTimeoutMs: number
  readonly headersTimeoutMs: number
  readonly bodyTimeoutMs: number
  readonly maxPendingHandshakes: number
  readonly maxAnonymousPerAddress: number
}

const DEFAULT_LIMITS: MtlsLimits = {
  handshakeTimeoutMs: 10_000,
  headersTimeoutMs: 15_000,
  bodyTimeoutMs: 30_000,
  maxPendingHandshakes: 1024,
  maxAnonymousPerAddress: 64,
}

/** Why the server closed a connection early (for a metric). */
export type RefusedReason =
  'handshake-timeout' | 'pending-handshakes' | 'per-address' | 'headers-timeout' | 'body-timeout'

type Conn = {
  busy: number
  idle: ReturnType<typeof setTimeout> | undefined
  /** Handshake done (the secure callback ran). */
  secured: boolean
  /** A verified client certificate was presented. */
  authenticated: boolean
  /** The source address, while the connection counts as anonymous for it. */
  anonymousFrom: string | undefined
}

/** Creates the mTLS server; nothing listens until `listen()`. */
export function createMtlsServer(opts: {
  certPem: string
  keyPem: string
  caPem: string
  handler: MtlsHandler
  closeGraceMs?: number
  idleTimeoutMs?: number
  limits?: Partial<MtlsLimits>
  /** Told each time a limit closes a connection. */
  onRefused?: (reason: RefusedReason) => void
  /** Told of an error of the listening socket (EMFILE on accept): the server keeps listening. */
  onListenerError?: (err: Error) => void
}): MtlsServer {
  const graceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  const limits = { ...DEFAULT_LIMITS, ...opts.limits }
  const refuse = (socket: Socket, reason: RefusedReason): void => {
    opts.onRefused?.(reason)
    socket.destroy()
  }
  const closingController = new AbortController()
  const closing = closingController.signal
  const conns = new Map<Socket, Conn>()
  let closePromise: Promise<void> | undefined
  let allGone: (() => void) | undefined
  let pendingHandshakes = 0
  const anonymousByAddress = new Map<string, number>()
  const leaveAnonymous = (conn: Conn): void => {
    const from = conn.anonymousFrom
    if (from === undefined) return
    conn.anonymousFrom = undefined
    const n = (anonymousByAddress.get(from) ?? 1) - 1
    if (n === 0) anonymousByAddress.delete(from)
    else anonymousByAddress.set(from, n)
  }

  const arm = (socket: Socket, conn: Conn, ms: number, reason?: RefusedReason): void => {
    clearTimeout(conn.idle)
    conn.idle = setTimeout(() => (reason ? refuse(socket, reason) : socket.destroy()), ms)
    conn.idle.unref?.()
  }
  // Without a certificate a connection must keep sending requests; with one it may idle.
  const armIdle = (socket: Socket, conn: Conn): void =>
    conn.authenticated
      ? arm(socket, conn, idleMs)
      : arm(socket, conn, limits.headersTimeoutMs, 'headers-timeout')

  const httpServer = createHttpServer()
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket
    const conn = conns.get(socket)
    // A head without its whole body within the limit holds a handler and a socket: destroyed.
    // Checked, not awaited: a long-poll's request is complete at once, its answer may take 60 s.
    const bodyTimer = setTimeout(() => {
      if (!req.complete && !res.writableEnded) refuse(socket, 'body-timeout')
    }, limits.bodyTimeoutMs)
    bodyTimer.unref?.()
    if (conn) {
      conn.busy++
      clearTimeout(conn.idle)
      conn.idle = undefined
    }
    if (closing.aborted) res.setHeader('Connection', 'close')
    res.once('close', () => {
      clearTimeout(bodyTimer)
      if (!conn) return
      conn.busy--
      if (conn.busy > 0) return
      if (closing.aborted) socket.destroy()
      else armIdle(socket, conn)
    })
    const failed = (): void => {
      // Policy: a handler bug costs its own request (500), never the process or other agents.
      if (!res.headersSent) res.writeHead(500).end()
      else res.destroy()
    }
    try {
      const result = opts.handler(req, res)
      if (result instanceof Promise) result.catch(failed)
    } catch {
      failed()
    }
  })

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
    },
    (socket: TLSSocket) => {
      const conn = conns.get(socket)
      if (conn !== undefined && !conn.secured) {
        conn.secured = true
        pendingHandshakes--
        conn.authenticated = socket.authorized === true
        if (conn.authenticated) leaveAnonymous(conn)
        armIdle(socket, conn)
      }
      if (closing.aborted) {
        socket.destroy()
        return
      }
      // TLS 1.2 clients could otherwise renegotiate with another certificate mid-connection.
      socket.disableRenegotiation()
      httpServer.emit('connection', socket)
    }
  )
  tlsServer.on('connection', (socket: Socket) => {
    const from = socket.remoteAddress ?? ''
    if (pendingHandshakes >= limits.maxPendingHandshakes)
      return refuse(socket, 'pending-handshakes')
    const anonymous = anonymousByAddress.get(from) ?? 0
    if (anonymous >= limits.maxAnonymousPerAddress) return refuse(socket, 'per-address')
    anonymousByAddress.set(from, anonymous + 1)
    pendingHandshakes++
    const conn: Conn = {
      busy: 0,
      idle: undefined,
      secured: false,
      authenticated: false,
      anonymousFrom: from,
    }
    conns.set(socket, conn)
    // A peer that never completes its handshake holds a descriptor and a handshake slot.
    arm(socket, conn, limits.handshakeTimeoutMs, 'handshake-timeout')
    socket.once('close', () => {
      clearTimeout(conn.idle)
      if (!conn.secured) pendingHandshakes--
      conn.secured = true
      leaveAnonymous(conn)
      conns.delete(socket)
      if (closing.aborted && conns.size === 0) allGone?.()
    })
  })
  // A failed handshake (bad client, scanner) is the client's problem; never crash the CP.
  tlsServer.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy())

  return {
    httpServer,
    closing,
    connectionCount: () => conns.size,
    listen(host: string, port: number): Promise<{ port: number }> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err)
        tlsServer.once('error', onError)
        tlsServer.listen(port, host, () => {
          tlsServer.off('error', onError)
          // An accept that failed (EMFILE, ENFILE) is reported, never fatal: the kernel keeps the
          // connection in its backlog and the next accept takes it once descriptors are free.
          tlsServer.on('error', (err: Error) => opts.onListenerError?.(err))
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
      for (const [socket, conn] of conns) if (conn.busy === 0) socket.destroy()
      const timer = setTimeout(() => {
        for (const socket of conns.keys()) socket.destroy()
      }, graceMs)
      if (conns.size === 0) allGone?.()
      // A destroyed socket does not always report 'close' promptly on Bun, and the listener's
      // close callback waits for every connection: bound the whole shutdown regardless.
      let hardStop: ReturnType<typeof setTimeout> | undefined
      const deadline = new Promise<void>((done) => {
        hardStop = setTimeout(done, graceMs + 500)
      })
      closePromise = Promise.race([Promise.all([stopListening, drained]), deadline]).then(() => {
        clearTimeout(timer)
        clearTimeout(hardStop)
      })
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
