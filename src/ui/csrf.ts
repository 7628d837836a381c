/**
 * The cross-site request forgery rule of state-changing requests (the dashboard's actions),
 * shared by the control plane (`cp/http/middleware/csrf.ts`) and `nixfleet ui`. A browser
 * always labels its requests (Origin on a POST, Sec-Fetch-Site in current engines); such a
 * request must come from the page's own origin and carry `X-NixFleet-CSRF: 1`, a header a
 * cross-site form cannot set and a cross-site script cannot send without a CORS preflight nobody
 * answers. Requests without those labels (curl, the CLI, agents) are not browsers' and pass:
 * their client certificate is the whole of their authority. Pure.
 */

/** The header the dashboard sends with every action. */
export const CSRF_HEADER = 'x-nixfleet-csrf'

/** Why a request must be refused, or undefined when it may proceed. Pure, for both listeners. */
export function csrfRefusal(h: {
  readonly method: string
  readonly host: string | undefined
  readonly origin: string | undefined
  readonly fetchSite: string | undefined
  readonly token: string | undefined
}): string | undefined {
  if (h.method === 'GET' || h.method === 'HEAD' || h.method === 'OPTIONS') return undefined
  if (h.origin === undefined && h.fetchSite === undefined) return undefined
  if (h.fetchSite !== undefined && h.fetchSite !== 'same-origin')
    return `cross-site request refused (Sec-Fetch-Site: ${h.fetchSite})`
  if (h.origin !== undefined) {
    let host: string | undefined
    try {
      host = new URL(h.origin).host
    } catch {
      host = undefined
    }
    if (host === undefined || host !== h.host) return 'cross-origin request refused'
  }
  if (h.token !== '1') return `browser requests must carry the ${CSRF_HEADER} header`
  return undefined
}

/** The rule applied to a request's method and headers (`header` reads one by lower-case name). */
export function requestRefusal(
  method: string,
  header: (name: string) => string | undefined
): string | undefined {
  return csrfRefusal({
    method,
    host: header('host'),
    origin: header('origin'),
    fetchSite: header('sec-fetch-site'),
    token: header(CSRF_HEADER),
  })
}
