/**
 * The agent's client errors: what a failed request to the control plane was, how it reads in a
 * log line, and whether retrying can help. Invariant: a configuration error (the CP's
 * certificate names another host) is never retryable and names what to fix.
 */
import { connect as tlsConnect } from 'node:tls'

/** Why a request failed. `status` carries the HTTP status and a short, sanitized reason. */
export type ClientError =
  | { readonly kind: 'network'; readonly message: string; readonly code: string | undefined }
  | { readonly kind: 'timeout'; readonly message: string }
  | { readonly kind: 'aborted'; readonly message: string }
  | {
      readonly kind: 'status'
      readonly status: number
      readonly message: string
      readonly retryAfterSecs: number | undefined
    }
  | { readonly kind: 'invalid'; readonly message: string }
  /** A configuration error retrying cannot fix (the CP's certificate names another host). */
  | { readonly kind: 'config'; readonly message: string }

// Error reasons are logged and may reach heartbeats; the CP's JSON errors are one short line.
export const MAX_REASON_CHARS = 300

/** The client error of an exception thrown by fetch. */
export function classifyThrown(e: unknown, signal: AbortSignal | undefined): ClientError {
  const err = e as { name?: unknown; code?: unknown; message?: unknown } | null
  const name = typeof err?.name === 'string' ? err.name : ''
  const message = typeof err?.message === 'string' ? err.message.split('\n')[0]! : String(e)
  if (name === 'TimeoutError') return { kind: 'timeout', message: 'request deadline exceeded' }
  if (name === 'AbortError') {
    // AbortSignal.any reports the timeout branch as AbortError too; the caller's signal tells.
    return signal?.aborted
      ? { kind: 'aborted', message: 'request cancelled' }
      : { kind: 'timeout', message: 'request deadline exceeded' }
  }
  const code = typeof err?.code === 'string' ? err.code : undefined
  return { kind: 'network', message: message.slice(0, MAX_REASON_CHARS), code }
}

/** The one-line description of a client error, for logs and exit messages. */
export function describeClientError(error: ClientError): string {
  switch (error.kind) {
    case 'status':
      return `HTTP ${error.status}${error.message ? `: ${error.message}` : ''}`
    case 'network':
      return `network error: ${error.message}`
    default:
      return error.message
  }
}

/** Whether a failed request may succeed later unchanged (network, 5xx, 408, 429, timeout). */
export function isRetryable(error: ClientError): boolean {
  if (error.kind === 'status') {
    return error.status >= 500 || error.status === 408 || error.status === 429
  }
  return error.kind !== 'invalid' && error.kind !== 'config'
}

// A name mismatch is looked into with one extra handshake (5 s at most) to name what to fix.
const PEER_NAMES_TIMEOUT_MS = 5_000

/** The names (subjectAltName) of the certificate `host:port` presents, or undefined. */
export function peerCertificateNames(url: URL, ca: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const port = Number(url.port || 443)
    const host = url.hostname.replace(/^\[|\]$/g, '')
    // Only the names are read; nothing is sent over this connection.
    const socket = tlsConnect({ host, port, ca, rejectUnauthorized: false }, () => {
      const names = socket.getPeerCertificate().subjectaltname
      socket.destroy()
      resolve(typeof names === 'string' && names !== '' ? names : undefined)
    })
    socket.setTimeout(PEER_NAMES_TIMEOUT_MS, () => {
      socket.destroy()
      resolve(undefined)
    })
    socket.on('error', () => resolve(undefined))
  })
}

/**
 * The configuration error for a CP certificate that does not name the host the agent dials
 * (Bun reports only `ERR_TLS_CERT_ALTNAME_INVALID` and a developer hint).
 */
export async function nameMismatch(baseUrl: string, ca: string): Promise<ClientError> {
  const url = new URL(baseUrl)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const names = await peerCertificateNames(url, ca)
  return {
    kind: 'config',
    message: `TLS: the control plane's certificate does not name ${host}${names ? ` (it names ${names})` : ''}: point --control-plane-url at ${names ? 'one of those names' : 'a name it carries'}, or reissue the control plane's certificate for ${host}`,
  }
}
