/**
 * The control plane's mTLS listener, bound before anything else exists (so an address in use or
 * an unusable key is a `CpStartError` at once), answering 503 + Retry-After until the app is
 * handed to it; and the expiry of the certificates it serves with (for the gauges).
 */
import { parseCertificate } from '../pki/cert.ts'
import type { MtlsServer } from '../pki/tls-server.ts'
import type { CpConfig } from './config.ts'
import { CpStartError, messageOf } from './start-error.ts'
import { createCpServer } from './http/server.ts'

const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
}

/** The mTLS listener, bound to the configured address; nothing is served until `serve`. */
export async function bindListener(
  config: CpConfig,
  lightweightResponses: boolean,
  serverOptions: Parameters<typeof createCpServer>[3]
): Promise<{ server: MtlsServer; port: number; serve(fetch: ServeFetch): void }> {
  let serving: ServeFetch | undefined
  const fetch: ServeFetch = (req, env) =>
    serving !== undefined
      ? serving(req, env)
      : new Response('{"error":"control plane starting; retry"}', {
          status: 503,
          headers: { 'content-type': 'application/json', 'retry-after': '1' },
        })
  let server: MtlsServer
  try {
    server = createCpServer(fetch, config.tls, lightweightResponses, serverOptions)
  } catch (e) {
    throw new CpStartError(`TLS certificate or key unusable: ${messageOf(e)}`)
  }
  const { host, port } = config.listen
  try {
    const bound = await server.listen(host, port)
    return { server, port: bound.port, serve: (f) => (serving = f) }
  } catch (e) {
    const code = (e as { code?: unknown }).code
    const why = (typeof code === 'string' ? LISTEN_ERRORS[code] : undefined) ?? messageOf(e)
    throw new CpStartError(
      `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${why}`
    )
  }
}

export type ServeFetch = Parameters<typeof createCpServer>[0]

/** The expiry of the server certificate and of the fleet CA (the first certificate of each PEM). */
export function certExpiries(config: CpConfig): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [name, pem] of [
    ['server', config.tls.certPem],
    ['fleet-ca', config.tls.clientCaPem],
  ] as const) {
    const cert = parseCertificate(pem)
    if (cert.ok) out[name] = cert.notAfterMs
  }
  return out
}
