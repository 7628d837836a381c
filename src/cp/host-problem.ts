/**
 * What is wrong with one host, as one word, for `nixfleet_cp_host_problem`: the host's own
 * problem from its heartbeats (`agent-io-error`), a revoked certificate not yet replaced
 * (`cert-revoked`), or silence past three heartbeat intervals (`offline`); `undefined` when
 * nothing is known to be wrong. The kinds are a subset of the operator API's `problem.kind`, so
 * this function can give way to the API's full per-host problem without renaming a series.
 * Invariants: pure (the clock is an argument); kinds are lowercase words from a fixed list.
 */
import type { CpState } from './state.ts'

/** The problem kinds this function reports. */
export type HostProblemKind = 'cert-revoked' | 'agent-io-error' | 'offline'

// Agents heartbeat every 60 s by default; three missed ones is the API's "offline".
const HEARTBEAT_INTERVAL_MS = 60_000
const OFFLINE_AFTER_MS = 3 * HEARTBEAT_INTERVAL_MS

/** The problem of `host` at `now`, or `undefined`. */
export function hostProblemKind(
  state: CpState,
  host: string,
  now: number
): HostProblemKind | undefined {
  const hb = state.heartbeats.get(host)
  const revoked = state.revocations.get(host)
  // A heartbeat passes the identity gate only with a certificate issued after the revocation,
  // so one received after the CP adopted it means the host has re-enrolled.
  if (revoked !== undefined && (hb === undefined || hb.receivedAt < revoked.revokedAt))
    return 'cert-revoked'
  // Hosts not heard from since this process started are not judged: their silence may be the
  // CP's restart, not theirs.
  if (hb === undefined) return undefined
  if (now - hb.receivedAt > OFFLINE_AFTER_MS) return 'offline'
  if (hb.problem) return 'agent-io-error'
  return undefined
}
