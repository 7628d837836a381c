/**
 * The typed client of the operator API, over mutual TLS with the operator's certificate: one
 * method per route the operator commands, `nixfleet demo` and the dashboard read. Bodies are
 * validated at the edge (`operator-api.ts`). Every failure is a `CliError` whose one line says
 * what to fix: a certificate that names another host names both, an unknown CA names the CA
 * file used, a refused connection names the URL, a bad PEM file names the file and where its
 * path came from. HTTP errors carry the CP's `{error}` sentence first, the request after it;
 * a refused action (403, 409) exits 1 — the thing asked for did not happen — anything else 2.
 */
import { readFileSync } from 'node:fs'
import * as v from 'valibot'
import { classifyThrown, peerCertificateNames } from '../agent/cp-errors.ts'
import { keyMatchesCertificate, normalizePrivateKeyPem, parseCertificate } from '../pki/cert.ts'
import { fsReason } from '../runtime/durable-fs.ts'
import { CliError, EXIT_USAGE, EXIT_VERIFY_FAILED } from './errors.ts'
import {
  AuditBody,
  ChannelsBody,
  DenialsBody,
  EventsBody,
  HostDetailSchema,
  HostsBody,
  QuarantinesBody,
  RolloutDetailSchema,
  RolloutsBody,
  type Status,
} from './operator-api.ts'
import type { Connection } from './operator-config.ts'

// An operator command waits this long for one answer; streams have no deadline.
const REQUEST_TIMEOUT_MS = 15_000

/** One server-sent event. */
export type StreamEvent = { readonly event: string; readonly id: string | undefined; data: string }

/**
 * An HTTP error answer of the control plane. A refusal (403: not allowed; 409: not now) means
 * the thing asked for did not happen: exit 1. Anything else (404 unknown name, 401, 5xx) exit 2.
 */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message, status === 403 || status === 409 ? EXIT_VERIFY_FAILED : EXIT_USAGE)
  }
}

/**
 * The three PEM files of `conn`, each read and checked before any connection: it exists, holds
 * a PEM block of its kind, and the key is the certificate's. A bad file otherwise surfaces as
 * an opaque socket error from the TLS stack.
 */
export function readTlsFiles(conn: Connection): { ca: string; cert: string; key: string } {
  const read = (path: string, what: string, source: string) => {
    try {
      return readFileSync(path, 'utf8')
    } catch (e) {
      throw new CliError(`${what} ${path} (from ${source}): ${fsReason(e)}`)
    }
  }
  const s = conn.sources
  const ca = read(conn.caCert, 'CA certificate', s.ca_cert)
  const cert = read(conn.clientCert, 'client certificate', s.client_cert)
  const key = read(conn.clientKey, 'client key', s.client_key)
  const certCheck = (pem: string, path: string, what: string, source: string) => {
    const parsed = parseCertificate(pem)
    if (!parsed.ok) throw new CliError(`${what} ${path} (from ${source}): ${parsed.error}`)
  }
  certCheck(ca, conn.caCert, 'CA certificate', s.ca_cert)
  certCheck(cert, conn.clientCert, 'client certificate', s.client_cert)
  const k = normalizePrivateKeyPem(key)
  if (!k.ok)
    throw new CliError(
      `client key ${conn.clientKey} (from ${s.client_key}): not a PEM private key (${k.error})`
    )
  if (!keyMatchesCertificate(key, cert))
    throw new CliError(
      `client key ${conn.clientKey} (from ${s.client_key}) is not the key of client certificate ${conn.clientCert} (from ${s.client_cert}): pass the key issued with that certificate`
    )
  return { ca, cert, key }
}

type Query = Readonly<Record<string, string | number | boolean | undefined>>

function withQuery(path: string, q: Query = {}): string {
  const params = new URLSearchParams()
  for (const [k, val] of Object.entries(q)) {
    if (val === undefined || val === false) continue
    params.set(k, val === true ? '1' : String(val))
  }
  const s = params.toString()
  return s ? `${path}?${s}` : path
}

const enc = encodeURIComponent

/** The operator API client. */
export class OperatorClient {
  private readonly tls: { ca: string; cert: string; key: string }

  constructor(private readonly conn: Connection) {
    this.tls = readTlsFiles(conn)
  }

  /** The control plane's URL. */
  get url(): string {
    return this.conn.url
  }

  /** Sends one request; the raw response, or a `CliError` saying what to fix. */
  async request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    opts: { signal?: AbortSignal; accept?: string; headers?: Record<string, string> } = {}
  ): Promise<Response> {
    const signal = opts.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    let res: Response
    try {
      res = await fetch(`${this.conn.url}${path}`, {
        method,
        headers: {
          accept: opts.accept ?? 'application/json',
          'x-nixfleet-protocol': '1',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        tls: this.tls,
        signal,
      })
    } catch (e) {
      throw await this.transportError(e, signal)
    }
    if (res.status >= 400) {
      const text = await res.text().catch(() => '')
      let reason = text.slice(0, 300)
      try {
        const parsed: unknown = JSON.parse(text)
        if (typeof parsed === 'object' && parsed !== null && 'error' in parsed)
          reason = String(parsed.error)
      } catch {
        // Not JSON: the text itself, cut short.
      }
      // A route this CLI knows but the control plane does not: an older control plane.
      const hint =
        res.status === 404 && reason === 'no such route'
          ? ' (this control plane predates the route; upgrade it)'
          : ''
      // The CP's sentence first; the request, for a bug report, after it.
      const cert =
        res.status === 401
          ? ` (client certificate ${this.conn.clientCert}, from ${this.conn.sources.client_cert})`
          : ''
      throw new ApiError(
        res.status,
        `${reason}${hint}${cert} (${method} ${path}: HTTP ${res.status})`
      )
    }
    return res
  }

  /** The translation of a fetch failure into what to fix. */
  private async transportError(e: unknown, signal: AbortSignal): Promise<CliError> {
    const err = classifyThrown(e, signal)
    const url = this.conn.url
    if (err.kind === 'timeout') return new CliError(`${url}: no answer within the deadline`)
    if (err.kind === 'aborted') return new CliError(`${url}: request cancelled`)
    const code = err.kind === 'network' ? err.code : undefined
    const host = new URL(url).hostname
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      const names = await peerCertificateNames(new URL(url), this.tls.ca)
      return new CliError(
        `TLS: the control plane's certificate does not name ${host}${names ? ` (it names ${names})` : ''}: use a URL with ${names ? 'one of those names' : 'a name it carries'} (--cp-url, from ${this.conn.sources.cp_url}) or reissue its certificate for ${host}`
      )
    }
    if (
      code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
      code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
      code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
      code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
      code === 'CERT_SIGNATURE_FAILURE'
    )
      return new CliError(
        `TLS: the control plane at ${url} presented a certificate not issued by the CA in ${this.conn.caCert} (from ${this.conn.sources.ca_cert}): point --ca-cert at the fleet CA (ca.pem)`
      )
    if (code === 'ECONNREFUSED' || code === 'ConnectionRefused')
      return new CliError(
        `cannot connect to ${url} (connection refused; from ${this.conn.sources.cp_url}): is the control plane running there?`
      )
    if (/certificate|tls|ssl|handshake/i.test(err.message) || /^ERR_TLS|CERT/.test(code ?? ''))
      return new CliError(
        `TLS handshake with ${url} failed (${code ?? err.message}): check --client-cert/--client-key are an operator certificate of this fleet and --ca-cert is its CA`
      )
    // The files were checked before connecting: a socket that fails to open over TLS is a
    // handshake the server refused (a certificate it does not trust, a key that is not its).
    if (code === 'FailedToOpenSocket')
      return new CliError(
        `TLS handshake failed: check that --client-cert and --client-key belong together and --ca-cert is the fleet CA (connecting to ${url} with ${this.conn.clientCert}, ${this.conn.clientKey} and ${this.conn.caCert})`
      )
    return new CliError(`cannot reach ${url}: ${code ?? err.message}`)
  }

  /** GET `path`, its body validated by `schema`. */
  async get<T>(path: string, schema: v.GenericSchema<unknown, T>): Promise<T> {
    const res = await this.request('GET', path)
    return parseAnswer(path, await res.json().catch(() => undefined), schema)
  }

  /** POST an operator action; the CP's JSON answer. */
  async post(path: string, body: Record<string, unknown>): Promise<unknown> {
    const res = await this.request('POST', path, body)
    return res.json().catch(() => null)
  }

  /** `GET /v1/hosts`, filtered by the control plane. */
  hosts(q: { channel?: string | undefined; problem?: boolean } = {}) {
    return this.get(withQuery('/v1/hosts', q), HostsBody)
  }

  /** `GET /v1/hosts/:hostname`. */
  host(hostname: string) {
    return this.get(`/v1/hosts/${enc(hostname)}`, HostDetailSchema)
  }

  /** `GET /v1/channels`. */
  async channels() {
    return (await this.get('/v1/channels', ChannelsBody)).channels
  }

  /** The fleet status: channels and hosts (what `/v1/stream` pushes). */
  async status(): Promise<Status> {
    const [{ hosts }, channels] = await Promise.all([this.hosts(), this.channels()])
    return { channels, hosts }
  }

  /** `GET /v1/rollouts` (open ones; `all`: the history, newest first, paged by `cursor`). */
  rollouts(
    q: {
      channel?: string | undefined
      all?: boolean
      state?: string
      limit?: number
      cursor?: string
    } = {}
  ) {
    return this.get(withQuery('/v1/rollouts', q), RolloutsBody)
  }

  /** `GET /v1/rollouts/:id`: waves, their hosts, gate sentences, outcome. */
  rollout(id: string) {
    return this.get(`/v1/rollouts/${enc(id)}`, RolloutDetailSchema)
  }

  /** `GET /v1/rollouts/:id/events`, filtered and paged by the control plane. */
  events(
    id: string,
    q: {
      after?: number | undefined
      host?: string | undefined
      kind?: string | undefined
      limit?: number
      order?: 'asc' | 'desc'
    } = {}
  ) {
    return this.get(withQuery(`/v1/rollouts/${enc(id)}/events`, q), EventsBody)
  }

  /** `GET /v1/operator/quarantines`. */
  quarantines() {
    return this.get('/v1/operator/quarantines', QuarantinesBody)
  }

  /** `GET /v1/operator/denials`. */
  denials() {
    return this.get('/v1/operator/denials', DenialsBody)
  }

  /** `GET /v1/operator/audit`, oldest first, after the action id `after`. */
  audit(q: { limit?: number; after?: number | undefined } = {}) {
    return this.get(withQuery('/v1/operator/audit', q), AuditBody)
  }

  /**
   * Reads `GET /v1/stream` until it ends or `signal` aborts, calling `onEvent` per message.
   * `lastEventId` resumes after a reconnect.
   */
  async stream(
    onEvent: (e: StreamEvent) => void,
    signal: AbortSignal,
    lastEventId?: string
  ): Promise<void> {
    const res = await this.request('GET', '/v1/stream', undefined, {
      signal,
      accept: 'text/event-stream',
      ...(lastEventId !== undefined ? { headers: { 'last-event-id': lastEventId } } : {}),
    })
    if (!res.body) return
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true })
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const parsed = parseSseBlock(block)
          if (parsed) onEvent(parsed)
        }
      }
    } catch (e) {
      if (signal.aborted) return
      throw await this.transportError(e, signal)
    }
  }
}

/** `raw` validated by `schema`, or a `CliError` naming the route and the first bad field. */
export function parseAnswer<T>(path: string, raw: unknown, schema: v.GenericSchema<unknown, T>): T {
  const r = v.safeParse(schema, raw)
  if (r.success) return r.output
  const issue = r.issues[0]
  const at = issue.path?.map((p) => String(p.key)).join('.') ?? ''
  throw new CliError(
    `${path}: unexpected answer from the control plane${at ? ` at ${at}` : ''}: ${issue.message}`
  )
}

/** One SSE block (`event:`, `id:`, `data:` lines; `:` comments); undefined for comments only. */
export function parseSseBlock(block: string): StreamEvent | undefined {
  let event = 'message'
  let id: string | undefined
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue
    const i = line.indexOf(':')
    const field = i < 0 ? line : line.slice(0, i)
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '')
    if (field === 'event') event = value
    else if (field === 'id') id = value
    else if (field === 'data') data.push(value)
  }
  return data.length === 0 ? undefined : { event, id, data: data.join('\n') }
}
