/**
 * The dashboard on an operator's workstation (`nixfleet ui`): serves the page on a loopback
 * listener and passes `/v1/*` through to the control plane with the operator's client
 * certificate, like `kubectl proxy`. The browser needs no certificate; the listener guards what
 * the certificate would otherwise lend to any local web page.
 * Invariants: only requests naming this listener in `Host` are answered (a DNS-rebinding page
 * cannot borrow it); state-changing requests pass the same CSRF check as on the control plane;
 * only GET and POST under `/v1/` reach the CP, with the browser's own labels (Origin, cookies,
 * Sec-Fetch-*) removed; responses stream, so `/v1/stream` stays live.
 */
import { hostname as osHostname, networkInterfaces } from 'node:os'
import { Hono } from 'hono'
import { CSRF_HEADER, requestRefusal } from './csrf.ts'
import { uiFiles } from './assets.ts'

/** How `nixfleet ui` reaches the control plane (the CLI's connection settings). */
export type CpConnection = {
  readonly url: string
  readonly caPem: string
  readonly certPem: string
  readonly keyPem: string
}

const FORWARD_REQUEST = [
  'accept',
  'content-type',
  'last-event-id',
  'x-nixfleet-protocol',
  CSRF_HEADER,
]
const FORWARD_RESPONSE = ['content-type', 'cache-control', 'retry-after', 'x-nixfleet-protocol']

/** The local app: the page at `/ui/`, the API pass-through at `/v1/*`. */
export function localApp(cp: CpConnection, allowedHosts: () => ReadonlySet<string>): Hono {
  const app = new Hono()
  const base = cp.url.replace(/\/+$/, '')
  app.use('*', async (c, next) => {
    const host = c.req.header('host') ?? ''
    const allowed = allowedHosts()
    if (!allowed.has(host.toLowerCase()))
      return c.json({ error: `this listener answers only ${[...allowed][0]}` }, 421)
    return next()
  })
  app.get('/', (c) => c.redirect('/ui/', 302))
  app.route('/', uiFiles())
  app.on(['GET', 'POST'], '/v1/*', async (c) => {
    const refusal = requestRefusal(c.req.method, (n) => c.req.header(n))
    if (refusal !== undefined) return c.json({ error: refusal }, 403)
    const headers: Record<string, string> = {}
    for (const name of FORWARD_REQUEST) {
      const v = c.req.header(name)
      if (v !== undefined) headers[name] = v
    }
    const url = new URL(c.req.url)
    let res: Response
    try {
      res = await fetch(`${base}${url.pathname}${url.search}`, {
        method: c.req.method,
        headers,
        ...(c.req.method === 'POST' ? { body: await c.req.arrayBuffer() } : {}),
        tls: { ca: cp.caPem, cert: cp.certPem, key: cp.keyPem },
        // The browser leaving (a closed page, a reconnecting stream) ends the upstream request.
        signal: c.req.raw.signal,
        redirect: 'manual',
      })
    } catch (e) {
      return c.json({ error: `control plane unreachable: ${String(e)}` }, 502)
    }
    const out = new Headers()
    for (const name of FORWARD_RESPONSE) {
      const v = res.headers.get(name)
      if (v !== null) out.set(name, v)
    }
    return new Response(res.body, { status: res.status, headers: out })
  })
  return app
}

/**
 * The `Host` values a listener on `hostname:port` answers to: its own address, the loopback
 * names for a loopback listener, and every address and the name of this machine for a wildcard
 * one (`0.0.0.0`, `::`).
 */
export function hostsFor(hostname: string, port: number): Set<string> {
  const names = new Set([hostname])
  if (hostname === '127.0.0.1' || hostname === '::1' || hostname === 'localhost')
    for (const n of ['127.0.0.1', 'localhost', '::1']) names.add(n)
  if (hostname === '0.0.0.0' || hostname === '::') {
    names.add('localhost').add(osHostname())
    for (const addrs of Object.values(networkInterfaces()))
      for (const a of addrs ?? []) names.add(a.address)
  }
  return new Set([...names].map((n) => `${n.includes(':') ? `[${n}]` : n}:${port}`.toLowerCase()))
}

/** A running local dashboard. */
export type LocalUi = { readonly url: string; stop(): Promise<void> }

/** Starts the local dashboard on `hostname:port` (0 picks a free port). */
export function startLocalUi(cp: CpConnection, hostname: string, port: number): LocalUi {
  let allowed = new Set<string>()
  const app = localApp(cp, () => allowed)
  const server = Bun.serve({
    hostname,
    port,
    // The status stream is long-lived; it sends a comment every 15 s, so no idle limit applies.
    idleTimeout: 0,
    fetch: (req) => app.fetch(req),
  })
  const bound = server.port ?? port
  allowed = hostsFor(hostname, bound)
  const shown = hostname.includes(':') ? `[${hostname}]` : hostname
  return {
    url: `http://${shown}:${bound}/ui/`,
    stop: async () => {
      await server.stop(true)
    },
  }
}
