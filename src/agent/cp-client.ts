/**
 * The agent's typed client for the control plane's agent endpoints (protocol §6.2, §7, §10):
 * signed artifacts, long-poll dispatch, heartbeat, events, enrollment and renewal.
 *
 * Invariants (do not change without a protocol update):
 * - Requests go through `cp-transport.ts`: the protocol header, deadlines, the retry on a reset
 *   connection, the per-request identity and the failover between control planes are there.
 * - Every response body is validated once, here, with the proto schemas; callers get typed
 *   values or a tagged `ClientError`, never raw JSON.
 * - A signed artifact is fetched as a pair pinned by digest (`getSigned`).
 * - Failures are tagged `ClientError`s (`cp-errors.ts`), retryable or not.
 */
import * as v from 'valibot'
import { classifyThrown, MAX_REASON_CHARS } from './cp-errors.ts'
import {
  CertResponseSchema,
  DispatchSchema,
  HeartbeatResponseSchema,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  REPLAY_FROM_HEADER,
  type CertResponse,
  type Dispatch,
  type HeartbeatResponse,
} from '../proto/agent.ts'
import { summarizeIssues } from '../proto/issues.ts'
import { sha256Hex } from '../crypto/sha256.ts'
import { ControlPlaneEndpoints, type FailoverDeps } from './cp-endpoints.ts'
import {
  failureOf,
  send,
  tlsOptions,
  type ClientResult,
  type RawResponse,
  type RequestOptions,
  type TlsMaterial,
  type Transport,
} from './cp-transport.ts'

export { describeClientError, isRetryable, type ClientError } from './cp-errors.ts'
export type { ClientResult, RequestOptions, TlsMaterial } from './cp-transport.ts'

/** A signed artifact as served: the exact bytes and the raw detached signature. */
export type SignedBytes = { readonly bytes: Uint8Array; readonly signature: Uint8Array }

/** The heartbeat reply with the optional Replay-From seq. */
export type HeartbeatReply = {
  readonly response: HeartbeatResponse
  readonly replayFrom: number | undefined
}

/** The body of `POST /v1/agent/heartbeat` as the agent builds it (snake_case wire names). */
export type HeartbeatBody = {
  readonly hostname: string
  readonly rollout_id: string | null
  readonly current_closure: string | null
  readonly at: string
  readonly agent_version?: string | null
  readonly uptime_secs?: number | null
  readonly last_event_seq_by_rollout?: Readonly<Record<string, number>> | null
  readonly reanchored_at?: string | null
  readonly last_refusal?: {
    readonly rollout_id: string | null
    readonly kind: string
    readonly message: string
    readonly at: string
  } | null
  readonly local_problem?: {
    readonly worker: string
    readonly code: string | null
    readonly message: string
    readonly since: string
  } | null
  readonly prefetched_closure?: string | null
}

/** The body of `POST /v1/agent/events`. */
export type EventEnvelopeBody = {
  readonly hostname: string
  readonly rolloutId: string
  readonly event: Readonly<Record<string, unknown>>
}

/** The construction parameters of a client. */
export type AgentClientOptions = {
  /** `https://host:port` of each control plane, in order of preference (at least one). */
  readonly baseUrls: readonly string[]
  readonly identity: () => TlsMaterial
  readonly userAgent: string
  /** The randomness, timers, resolver, log and metrics of the switching between them. */
  readonly failover?: FailoverDeps
}

function reasonOf(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, 4096))
  try {
    const j = JSON.parse(text) as { error?: unknown; reason?: unknown }
    const parts = [j.error, j.reason].filter((x): x is string => typeof x === 'string')
    if (parts.length > 0) return parts.join(': ').slice(0, MAX_REASON_CHARS)
  } catch {
    // not JSON: fall through to the first line of text
  }
  return (text.split('\n')[0] ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_REASON_CHARS)
}

function retryAfterOf(headers: Headers): number | undefined {
  const raw = headers.get('retry-after')
  if (raw === null || !/^\d{1,6}$/.test(raw.trim())) return undefined
  return Number(raw.trim())
}

function parseJson<T>(
  bytes: Uint8Array,
  schema: v.GenericSchema<unknown, T>,
  what: string
): ClientResult<T> {
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return { ok: false, error: { kind: 'invalid', message: `${what}: response is not JSON` } }
  }
  const r = v.safeParse(schema, raw)
  if (!r.success) {
    return {
      ok: false,
      error: { kind: 'invalid', message: `${what}: ${summarizeIssues(r.issues)}` },
    }
  }
  return { ok: true, value: r.output }
}

/** The agent's control-plane client. */
export class AgentClient {
  /** The control planes and the one in use. */
  readonly endpoints: ControlPlaneEndpoints
  private readonly transport: Transport

  constructor(private readonly opts: AgentClientOptions) {
    this.endpoints = new ControlPlaneEndpoints(opts.baseUrls, opts.failover)
    this.transport = {
      endpoints: this.endpoints,
      identity: opts.identity,
      userAgent: opts.userAgent,
    }
  }

  private static expect2xx(r: ClientResult<RawResponse>): ClientResult<RawResponse> {
    if (!r.ok) return r
    const { status, headers, bytes } = r.value
    if (status >= 200 && status < 300) return r
    return {
      ok: false,
      error: {
        kind: 'status',
        status,
        message: reasonOf(bytes),
        retryAfterSecs: retryAfterOf(headers),
      },
    }
  }

  private async getBytes(path: string, ro: RequestOptions): Promise<ClientResult<Uint8Array>> {
    const r = AgentClient.expect2xx(
      await send(this.transport, 'GET', path, undefined, ro, { idempotent: true })
    )
    return r.ok ? { ok: true, value: r.value.bytes } : r
  }

  /**
   * An artifact and its signature. The signature request pins the digest of the bytes just
   * fetched; a CP that adopted a release in between answers 409, and the pair is fetched again
   * (once), so a publication never pairs new bytes with an old signature or the reverse.
   */
  private async getSigned(path: string, ro: RequestOptions): Promise<ClientResult<SignedBytes>> {
    for (let attempt = 0; ; attempt++) {
      const bytes = await this.getBytes(path, ro)
      if (!bytes.ok) return bytes
      const pin = sha256Hex(bytes.value)
      const signature = await this.getBytes(`${path}/sig?sha256=${pin}`, ro)
      if (signature.ok)
        return { ok: true, value: { bytes: bytes.value, signature: signature.value } }
      if (signature.error.kind !== 'status' || signature.error.status !== 409 || attempt > 0)
        return signature
    }
  }

  /** `GET /v1/fleet.resolved` and its `/sig`: the exact bytes the CP verified. */
  fetchFleet(ro: RequestOptions): Promise<ClientResult<SignedBytes>> {
    return this.getSigned('/v1/fleet.resolved', ro)
  }

  /** `GET /v1/rollouts/{id}` and its `/sig`. */
  fetchRolloutManifest(rolloutId: string, ro: RequestOptions): Promise<ClientResult<SignedBytes>> {
    return this.getSigned(`/v1/rollouts/${encodeURIComponent(rolloutId)}`, ro)
  }

  /**
   * A GET whose answer is passed on as it streams (the closure proxy), the headers within
   * `timeoutMs`; throws when the control plane cannot be reached.
   */
  async stream(path: string, timeoutMs: number): Promise<Response> {
    const tls = this.opts.identity()
    const headersDue = new AbortController()
    const timer = setTimeout(() => headersDue.abort(), timeoutMs)
    const target = await this.endpoints.current(headersDue.signal)
    if (headersDue.signal.aborted) {
      // The deadline passed in the backoff between control planes: not this one's failure.
      clearTimeout(timer)
      throw new Error('control plane unreachable (moving to the next one)')
    }
    try {
      const res = await fetch(`${target.base}${path}`, {
        headers: {
          [PROTOCOL_HEADER]: String(PROTOCOL_VERSION),
          'user-agent': this.opts.userAgent,
          ...(target.host !== undefined ? { host: target.host } : {}),
        },
        signal: headersDue.signal,
        tls: tlsOptions(target, tls),
      })
      this.endpoints.report(target, failureOf({ ok: true, value: res }))
      return res
    } catch (e) {
      this.endpoints.report(target, classifyThrown(e, undefined))
      throw e
    } finally {
      clearTimeout(timer)
    }
  }

  /** `GET /v1/agent/dispatch?wait=N`: a dispatch, or `null` when none arrived in time (204). */
  async pollDispatch(waitSecs: number, ro: RequestOptions): Promise<ClientResult<Dispatch | null>> {
    const r = AgentClient.expect2xx(
      await send(this.transport, 'GET', `/v1/agent/dispatch?wait=${waitSecs}`, undefined, ro, {
        idempotent: true,
      })
    )
    if (!r.ok) return r
    if (r.value.status === 204 || r.value.bytes.length === 0) return { ok: true, value: null }
    return parseJson(r.value.bytes, DispatchSchema, 'dispatch')
  }

  /** `POST /v1/agent/heartbeat`. */
  async heartbeat(body: HeartbeatBody, ro: RequestOptions): Promise<ClientResult<HeartbeatReply>> {
    const r = AgentClient.expect2xx(
      await send(this.transport, 'POST', '/v1/agent/heartbeat', body, ro, { idempotent: true })
    )
    if (!r.ok) return r
    const parsed = parseJson(r.value.bytes, HeartbeatResponseSchema, 'heartbeat reply')
    if (!parsed.ok) return parsed
    const header = r.value.headers.get(REPLAY_FROM_HEADER)
    const replayFrom =
      header !== null && /^\d{1,15}$/.test(header.trim()) ? Number(header.trim()) : undefined
    return { ok: true, value: { response: parsed.value, replayFrom } }
  }

  /** `POST /v1/agent/events` (idempotent: the CP answers 204 for an already-seen seq). */
  async postEvent(envelope: EventEnvelopeBody, ro: RequestOptions): Promise<ClientResult<number>> {
    const r = AgentClient.expect2xx(
      await send(this.transport, 'POST', '/v1/agent/events', envelope, ro, { idempotent: true })
    )
    return r.ok ? { ok: true, value: r.value.status } : r
  }

  /** `POST /v1/enroll` over TLS without a client certificate. Never retried. */
  async enroll(
    body: { readonly token: unknown; readonly csrPem: string },
    ro: RequestOptions
  ): Promise<ClientResult<CertResponse>> {
    const r = AgentClient.expect2xx(
      await send(this.transport, 'POST', '/v1/enroll', body, ro, {
        idempotent: false,
        anonymous: true,
      })
    )
    return r.ok ? parseJson(r.value.bytes, CertResponseSchema, 'enroll reply') : r
  }

  /** `POST /v1/agent/renew` with the current mTLS identity. */
  async renew(
    body: { readonly csrPem: string },
    ro: RequestOptions
  ): Promise<ClientResult<CertResponse>> {
    const r = AgentClient.expect2xx(
      await send(this.transport, 'POST', '/v1/agent/renew', body, ro, { idempotent: true })
    )
    return r.ok ? parseJson(r.value.bytes, CertResponseSchema, 'renew reply') : r
  }
}
