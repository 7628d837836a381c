/**
 * The agent client's transport: one HTTPS request to one control plane (`sendOnce`), and a
 * request carried across the control planes (`send`): the retry on a reset keep-alive socket and
 * the failover to the next control plane. `cp-client.ts` builds the endpoint calls on it.
 *
 * Invariants (do not change without a protocol update):
 * - Every request carries `X-Nixfleet-Protocol: 1` (DECISIONS §3.10) and an AbortSignal
 *   deadline; the caller's shutdown signal is combined with it.
 * - No body larger than `MAX_BODY_BYTES` is read.
 * - Idempotent requests are retried once on a connection reset: the CP closes idle keep-alive
 *   connections after 120 s, and the first request on such a socket fails with ECONNRESET.
 *   Enrollment is never retried (its token is single-use).
 * - The TLS identity is read per request (`identity()`), so a renewed certificate takes effect
 *   on the next request without a restart.
 * - With several control planes (`cp-endpoints.ts`), a request that fails with a connection
 *   failure, a timeout or 502/503/504 moves the agent to the next one and is sent there (each
 *   target at most once per request), when it is idempotent or was provably never sent. The
 *   CP deduplicates an event it received twice by its seq, so a switch mid-send loses nothing.
 */
import { classifyThrown, nameMismatch, type ClientError } from './cp-errors.ts'
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../proto/agent.ts'
import type { ControlPlaneEndpoints, Target } from './cp-endpoints.ts'

/** The TLS material of a request: the fleet CA, plus the client identity once enrolled. */
export type TlsMaterial = {
  readonly ca: string
  readonly cert?: string | undefined
  readonly key?: string | undefined
}

/** The outcome of a request. */
export type ClientResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ClientError }

/** Per-request options: the deadline and the caller's cancellation. */
export type RequestOptions = {
  readonly timeoutMs: number
  readonly signal?: AbortSignal | undefined
}

/** What a request is sent with: the control planes, the identity, the user agent. */
export type Transport = {
  readonly endpoints: ControlPlaneEndpoints
  readonly identity: () => TlsMaterial
  readonly userAgent: string
}

// The largest body the agent reads: a 10,000-host fleet.resolved is ~3 MB; 64 MiB leaves room
// for growth while keeping a hostile CP from exhausting the agent's memory.
const MAX_BODY_BYTES = 64 * 1024 * 1024
// Network error codes that mean "the kept-alive socket was closed under us": safe to retry once.
const RESET_CODES = new Set(['ECONNRESET', 'ConnectionClosed', 'EPIPE', 'ECONNABORTED'])
// Connection failures before any byte of the request left: even a single-use request (the
// enrollment token) may go to the next control plane.
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

type Method = 'GET' | 'POST'

export type RawResponse = { status: number; headers: Headers; bytes: Uint8Array }

/** The TLS options of a request to `target`: pinned to an address, TLS still checks the name. */
export function tlsOptions(target: Target, tls: TlsMaterial) {
  return {
    ca: tls.ca,
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(target.serverName !== undefined ? { serverName: target.serverName } : {}),
  }
}

/** The failure a request's outcome is to the control-plane choice: its error, or a 502/503/504. */
export function failureOf(r: ClientResult<{ readonly status: number }>): ClientError | undefined {
  if (!r.ok) return r.error
  const status = r.value.status
  return status === 502 || status === 503 || status === 504
    ? { kind: 'status', status, message: '', retryAfterSecs: undefined }
    : undefined
}

/** Whether a failure proves the request never reached a control plane. */
const neverSent = (e: ClientError): boolean =>
  e.kind === 'config' ||
  (e.kind === 'network' && e.code !== undefined && NOT_SENT_CODES.has(e.code))

/** One request to one control plane, its body read whole (bounded). */
export async function sendOnce(
  userAgent: string,
  target: Target,
  method: Method,
  path: string,
  body: unknown,
  tls: TlsMaterial,
  ro: RequestOptions
): Promise<ClientResult<RawResponse>> {
  const timeout = AbortSignal.timeout(ro.timeoutMs)
  const signal = ro.signal ? AbortSignal.any([ro.signal, timeout]) : timeout
  const headers: Record<string, string> = {
    [PROTOCOL_HEADER]: String(PROTOCOL_VERSION),
    'user-agent': userAgent,
    accept: 'application/json, application/octet-stream',
  }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (target.host !== undefined) headers['host'] = target.host
  try {
    const res = await fetch(`${target.base}${path}`, {
      method,
      headers,
      signal,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      tls: tlsOptions(target, tls),
    })
    const declared = Number(res.headers.get('content-length') ?? '0')
    if (declared > MAX_BODY_BYTES) {
      await res.body?.cancel()
      return {
        ok: false,
        error: { kind: 'invalid', message: `response of ${declared} bytes is too large` },
      }
    }
    const bytes = new Uint8Array(await res.arrayBuffer())
    if (bytes.length > MAX_BODY_BYTES) {
      return { ok: false, error: { kind: 'invalid', message: 'response is too large' } }
    }
    return { ok: true, value: { status: res.status, headers: res.headers, bytes } }
  } catch (e) {
    const error = classifyThrown(e, ro.signal)
    if (error.kind === 'network' && error.code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return { ok: false, error: await nameMismatch(target.url, tls.ca) }
    return { ok: false, error }
  }
}

/** A request to the control plane in use, retried and failed over as the invariants say. */
export async function send(
  t: Transport,
  method: Method,
  path: string,
  body: unknown,
  ro: RequestOptions,
  opts: { idempotent: boolean; anonymous?: boolean }
): Promise<ClientResult<RawResponse>> {
  const id = t.identity()
  const tls: TlsMaterial = opts.anonymous ? { ca: id.ca } : id
  const tried = new Set<string>()
  for (;;) {
    const target = await t.endpoints.current(ro.signal)
    if (ro.signal?.aborted)
      return { ok: false, error: { kind: 'aborted', message: 'request cancelled' } }
    tried.add(target.key)
    let r = await sendOnce(t.userAgent, target, method, path, body, tls, ro)
    if (
      !r.ok &&
      opts.idempotent &&
      r.error.kind === 'network' &&
      r.error.code !== undefined &&
      RESET_CODES.has(r.error.code)
    ) {
      r = await sendOnce(t.userAgent, target, method, path, body, tls, ro)
    }
    const failure = failureOf(r)
    if (!t.endpoints.report(target, failure) || failure === undefined) return r
    if (!opts.idempotent && !neverSent(failure)) return r
    if (tried.has(t.endpoints.nextKey)) return r
  }
}
