/**
 * The request gates of `/v1/*`, outermost first (spec protocol.md §6.1): readiness (503 +
 * Retry-After until the first signed release is adopted), the protocol header (426 for another
 * version, 400 for garbage, 400 when missing under `--strict`), and mTLS identity with roles
 * (DECISIONS §3.12) and the per-request revocation check.
 * Policy: agent certificates (`agent-<host>.<suffix>`) reach agent routes only, operator
 * certificates (`operator-*`) operator routes only; an unverified or absent certificate is no
 * identity (401); a certificate issued before its host's revocation (signed notBefore, or the
 * CP's adoption of the entry) is refused (401), and so is a host or operator CN an operator
 * denied (401, until allowed).
 */
import type { MiddlewareHandler } from 'hono'
import { certRevoked } from '../../../core/index.ts'
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../../proto/agent.ts'
import { machineIdFromCn, roleOfCn } from '../../../pki/identity.ts'
import type { AppDeps, Caller, CpEnv } from '../deps.ts'
import { jsonError } from './errors.ts'

// Agents retry enrollment every 10 s on this answer; 30 s is the reference's value.
const NOT_READY_RETRY_SECS = 30

/** The readiness gate. */
export function readyGate(deps: AppDeps): MiddlewareHandler {
  return async (c, next) => {
    if (deps.isReady()) return next()
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
      if (deps.config.strict)
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
  return async (c, next) => {
    const peer = deps.identify(c)
    if (peer === undefined)
      return jsonError(c, 401, 'a client certificate issued by the fleet CA is required')
    const role = roleOfCn(peer.cn, suffix)
    if (role === 'unknown' || !roles.includes(role)) {
      return jsonError(c, 403, `this route is for ${roles.join(' or ')} certificates`)
    }
    const name = role === 'agent' ? machineIdFromCn(peer.cn, suffix) : peer.cn
    if (role === 'agent') {
      // Policy (core): issued before the signed notBefore or before the CP adopted the entry is
      // revoked; a certificate issued after both (a re-enrolment) is accepted.
      if (certRevoked(peer.notBeforeMs, deps.state.revocations.get(name))) {
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
