/**
 * What the control plane knows of one host, gathered from its state for core's `hostProblem`:
 * the durable record, the latest heartbeat (and what the agent reported in it), enrolment
 * refusals, and the signed revocations. Pure: a function of the state, `now` and the agents'
 * heartbeat interval; read by the host views and by the planner's gate sentences.
 */
import {
  certRevoked,
  enrolmentOf,
  hostProblem,
  revocationCutoff,
  type HostFacts,
  type HostProblem,
} from '../core/index.ts'
import { parseRfc3339Ms } from '../proto/common.ts'
import { missingClosureOf } from './closures.ts'
import type { CpState } from './state.ts'

/** Every hostname the CP knows, sorted: the adopted fleet's, then those only its records know. */
export function knownHostnames(state: CpState): string[] {
  const names = new Set(Object.keys(state.release?.fleet.value.hosts ?? {}))
  for (const h of state.knownHosts.keys()) names.add(h)
  return [...names].sort()
}

/** When the CP last heard from a host: its latest heartbeat or its durable last-seen. */
export function lastSeenOf(state: CpState, hostname: string): number | null {
  const live = state.heartbeats.get(hostname)?.receivedAt ?? null
  const stored = state.knownHosts.get(hostname)?.lastSeenAt ?? null
  if (live === null) return stored
  return stored === null ? live : Math.max(live, stored)
}

/**
 * When the host's certificate was revoked, or null: its known certificate predates the signed
 * revocation; with no certificate known, a revocation it was not heard from since.
 */
export function revokedAtOf(state: CpState, hostname: string): number | null {
  const rev = state.revocations.get(hostname)
  if (rev === undefined) return null
  const cert = state.knownHosts.get(hostname)?.cert
  if (cert != null) return certRevoked(cert.notBefore, rev) ? rev.revokedAt : null
  const seen = lastSeenOf(state, hostname)
  return seen === null || seen < revocationCutoff(rev) ? rev.revokedAt : null
}

/** The facts `hostProblem` decides from. */
export function hostFactsOf(state: CpState, hostname: string): HostFacts {
  const known = state.knownHosts.get(hostname)
  const hb = state.heartbeats.get(hostname)
  const lastSeenAt = lastSeenOf(state, hostname)
  const local = hb?.problem
  const denial = state.denial('host', hostname)
  return {
    enrolment: enrolmentOf(
      known?.enrolledAt ?? null,
      lastSeenAt,
      known !== undefined,
      state.enrolmentRefusals.get(hostname)
    ),
    revokedAt: revokedAtOf(state, hostname),
    denied: denial === undefined ? null : { by: denial.by, reason: denial.reason, at: denial.at },
    lastSeenAt,
    lastRefusal: hb?.refusal ?? null,
    localProblem: local
      ? {
          worker: local.code ? `${local.worker} (${local.code})` : local.worker,
          message: local.message,
          since: parseRfc3339Ms(local.since),
        }
      : null,
    reanchoredAt: hb?.reanchoredAt ?? null,
    closureMissing: missingClosureOf(state, hostname),
  }
}

/** A host's problem now, or null. */
export function problemOf(
  state: CpState,
  hostname: string,
  now: number,
  heartbeatIntervalMs: number
): HostProblem | null {
  return hostProblem(hostFactsOf(state, hostname), now, heartbeatIntervalMs)
}
