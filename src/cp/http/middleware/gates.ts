/**
 * The request gates of `/v1/*`, outermost first (spec protocol.md §6.1): readiness (503 +
 * Retry-After until the first signed release is adopted), the protocol header (426 for another
 * version, 400 for garbage, 400 when missing on an agent route under `--strict`), and mTLS
 * identity with roles (DECISIONS §3.12) and the per-request revocation check.
 * Policy: agent certificates (`agent-<host>.<suffix>`) reach agent routes only, operator
 * certificates (`operator-*`) operator routes only, viewer certificates (`viewer-*`) the
 * operator surface's reads only (any other method is 403); an unverified or absent certificate
 * is no identity (401); a certificate issued before its host's revocation (signed notBefore, or
 * the CP's adoption of the entry) is refused (401), and so is a host or operator CN an operator
 * denied (401, until allowed). `/v1/operator/status` is not gated on readiness: it is what says
 * why the CP is not ready. Refusals are logged (warn), rate-limited per caller and reason, since
 * a peer can provoke them at will.
 */
import type { MiddlewareHandler } from 'hono'
import { certRevoked } from '../../../core/index.ts'
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../../proto/agent.ts'
import { machineIdFromCn, roleOfCn } from '../../../pki/identity.ts'
import { type RepeatLog, repeatLog } from '../../../runtime/repeat-log.ts'
import type { AppDeps, Caller, CpEnv } from '../deps.ts'
import { jsonError } from './errors.ts'

// Agents retry enrollment every 10 s on this answer; 30 s is the reference's value.
const NOT_READY_RETRY_SECS = 30
// Routes that answer before the CP is ready: the status says why it is not.
const UNGATED_BY_READINESS = new Set(['/v1/operator/status'])
// The same refusal of the same caller is logged at most once a minute, with a count.
const REFUSAL_LOG_INTERVAL_MS = 60_000
// Methods that read: the only ones a viewer certificate may use.
const READ_METHODS = new Set(['GET', 'HEAD'])

/** Who may read the operator surface (GET routes and /metrics). */
export const READERS: readonly Caller['role'][] = ['operator', 'viewer']

// One refusal log per app, shared by every gate of it, so its rate limit is per caller.
const refusalLogs = new WeakMap<AppDeps, RepeatLog>()
function refusalLog(deps: AppDeps): RepeatLog {
  let l = refusalLogs.get(deps)
  if (l === undefined) {
    l = repeatLog({
      log: deps.log,
      intervalMs: REFUSAL_LOG_INTERVAL_MS,
      now: () => deps.clock.monotonicMs(),
      onSuppressed: () => deps.metrics.logSuppressed.inc(),
    })
    refusalLogs.set(deps, l)
  }
  return l
}

/** The readiness gate. */
export function readyGate(deps: AppDeps): MiddlewareHandler {
  return async (c, next) => {
    if (deps.isReady() || UNGATED_BY_READINESS.has(c.req.path)) return next()
    c.header('Retry-After', String(NOT_READY_RETRY_SECS))
    return c.json(
      { error: 'control plane not ready', reason: 'awaiting first signed artifact' },
      503
    )
  }
}

/** The protocol-version gate. */
export function protocolGate(deps: AppDeps): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.header(PROTOCOL_HEADER)
    if (raw === undefined) {
      // Strict mode holds agents to the protocol; an operator's curl needs no header.
      if (deps.config.strict && c.req.path.startsWith('/v1/agent/'))
        return jsonError(c, 400, `missing ${PROTOCOL_HEADER} header (strict mode)`)
      return next()
    }
    if (!/^\d{1,9}$/.test(raw.trim()))
      return jsonError(c, 400, `${PROTOCOL_HEADER} must be an integer`)
    const version = Number(raw.trim())
    if (version !== PROTOCOL_VERSION) {
      c.header(PROTOCOL_HEADER, String(PROTOCOL_VERSION))
      return jsonError(
        c,
        426,
        `protocol version ${version} is not supported (this control plane speaks ${PROTOCOL_VERSION})`
      )
    }
    return next()
  }
}

/** The identity gate: `roles` lists who may pass. */
export function identityGate(
  deps: AppDeps,
  roles: readonly Caller['role'][]
): MiddlewareHandler<CpEnv> {
  const suffix = deps.config.agentCnSuffix
  const forAgents = roles.includes('agent') && !roles.includes('operator')
  const logged = refusalLog(deps)
  const refuse = (
    c: Parameters<MiddlewareHandler<CpEnv>>[0],
    status: 401 | 403,
    error: string,
    cn: string | undefined
  ): Response => {
    // Agents' refusals are theirs to report (revocations are logged below); operator-side ones
    // are what an on-call engineer looks for: a stale dashboard certificate, a mistyped role.
    if (!forAgents) {
      logged('warn', `${cn ?? ''}\u0000${status}\u0000${error}`, 'operator request refused', {
        status,
        method: c.req.method,
        path: c.req.path.slice(0, 200),
        cn: cn ?? null,
        reason: error,
      })
    }
    return jsonError(c, status, error)
  }
  return async (c, next) => {
    const peer = deps.identify(c)
    if (peer === undefined)
      return refuse(c, 401, 'a client certificate issued by the fleet CA is required', undefined)
    const role = roleOfCn(peer.cn, suffix)
    if (role === 'unknown' || !roles.includes(role)) {
      return refuse(c, 403, `this route is for ${roles.join(' or ')} certificates`, peer.cn)
    }
    if (role === 'viewer' && !READ_METHODS.has(c.req.method)) {
      return refuse(
        c,
        403,
        'viewer certificates are read-only; this action needs an operator certificate',
        peer.cn
      )
    }
    const name = role === 'agent' ? machineIdFromCn(peer.cn, suffix) : peer.cn
    if (role === 'agent') {
      // Policy (core): issued before the signed notBefore or before the CP adopted the entry is
      // revoked; a certificate issued after both (a re-enrolment) is accepted.
      if (certRevoked(peer.notBeforeMs, deps.state.revocations.get(name))) {
        logged('warn', name, 'revoked certificate still calling', {
          host: name,
          cn: peer.cn,
          path: c.req.path.slice(0, 200),
        })
        return jsonError(c, 401, 'certificate revoked')
      }
    }
    // An operator's emergency denial: every certificate of the host (or this operator CN) is
    // refused until allowed again; read per request, so it applies to the very next one.
    const denied = deps.state.denial(role === 'agent' ? 'host' : 'operator', name)
    if (denied !== undefined) {
      return jsonError(c, 401, `certificate denied by ${denied.by}: ${denied.reason}`)
    }
    c.set('caller', { cn: peer.cn, role, name, notBeforeMs: peer.notBeforeMs })
    return next()
  }
}
