/**
 * The agent's local substituter: a loopback HTTP binary cache (`--closure-proxy-listen`) that
 * Nix on the host is pointed at (`nix.settings.substituters`), answering from the control
 * plane's closure proxy over the agent's mTLS connection, so a host behind NAT fetches closures
 * without a route to the cache.
 *
 * Invariants: loopback only (the agent's certificate is not lent to other machines); only the
 * three things Nix asks a binary cache for are forwarded — `nix-cache-info` (answered here),
 * `<hash>.narinfo` and `nar/<file>` — anything else is 404; bodies stream through unread; trust
 * is Nix's: it checks every narinfo signature against its `trusted-public-keys`, whatever path
 * the bytes took.
 */
import type { AgentClient } from './cp-client.ts'
import type { Logger } from '../runtime/log.ts'

// Headers from the CP within this; the body then streams as long as it takes.
const HEADERS_TIMEOUT_MS = 30_000
const NARINFO = /^\/([0-9a-z]{32})\.narinfo$/
const NAR = /^\/nar\/([0-9a-z]{32,64}\.nar(\.(xz|bz2|zst|gz|lz4|br))?)$/

/** A running local substituter. */
export type ClosureProxy = { readonly port: number; stop(): void }

/** Serves the local substituter on `listen` (a loopback address). */
export function serveClosureProxy(opts: {
  readonly listen: { readonly hostname: string; readonly port: number }
  readonly client: AgentClient
  readonly storeDir: string
  readonly log: Logger
}): ClosureProxy {
  const { client, log } = opts
  // Below cache.nixos.org's 40: a host with both asks the fleet's cache first.
  const cacheInfo = `StoreDir: ${opts.storeDir}\nWantMassQuery: 1\nPriority: 30\n`
  const forward = async (path: string): Promise<Response> => {
    try {
      const res = await client.stream(path, HEADERS_TIMEOUT_MS)
      const headers: Record<string, string> = {}
      for (const h of ['content-type', 'content-length'])
        if (res.headers.get(h) !== null) headers[h] = res.headers.get(h)!
      return new Response(res.body, { status: res.status, headers })
    } catch (e) {
      log.warn('closure proxy: control plane unreachable', {
        path,
        error: e instanceof Error ? e.message : String(e),
      })
      return new Response('control plane unreachable\n', { status: 502 })
    }
  }
  const server = Bun.serve({
    hostname: opts.listen.hostname,
    port: opts.listen.port,
    fetch(req) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return new Response(null, { status: 405 })
      const path = new URL(req.url).pathname
      if (path === '/nix-cache-info') return new Response(cacheInfo)
      const info = NARINFO.exec(path)
      if (info !== null) return forward(`/v1/agent/closure/${info[1]}`)
      const nar = NAR.exec(path)
      if (nar !== null) return forward(`/v1/agent/closure/nar/${nar[1]}`)
      return new Response(null, { status: 404 })
    },
  })
  log.info('closure proxy listening', { hostname: opts.listen.hostname, port: server.port })
  return { port: server.port ?? 0, stop: () => void server.stop(true) }
}
