/**
 * Why a host is not moving: the one `problem` the operator views show for it, decided from the
 * facts the control plane holds (its enrolment, certificate, last heartbeat and what that
 * heartbeat reported). Pure: `now` and the agents' heartbeat interval are passed in.
 *
 * Invariants:
 * - At most one problem per host, the first in this order: certificate revoked, denied by an
 *   operator (emergency revocation), enrolment
 *   refused, never enrolled, offline, agent-side I/O error, refused dispatch, closure missing
 *   from the binary cache, re-anchored. The earlier ones explain the later (a revoked or offline
 *   host reports nothing newer).
 * - A host is offline when nothing was heard from it for more than `OFFLINE_INTERVALS`
 *   heartbeat intervals (one late heartbeat is not an outage).
 * - A re-anchor is shown for `REANCHOR_NOTICE_MS` after it happened: the agent reports its
 *   time in every heartbeat for ever, but it is news only for a while. One within
 *   `FIRST_ANCHOR_MS` of the enrolment the CP saw is the host's first anchoring (every new
 *   host has no marks yet), not a problem.
 */

/** The kinds of host problem, in the operator API's words. */
export type HostProblemKind =
  | 'refused-dispatch'
  | 'cert-revoked'
  | 'denied'
  | 'never-enrolled'
  | 'enrolment-refused'
  | 'offline'
  | 'agent-io-error'
  | 'reanchored'
  | 'closure-missing'

/** A host's problem: its kind, a sentence, and since when (epoch ms) if known. */
export type HostProblem = {
  readonly kind: HostProblemKind
  readonly message: string
  readonly since: number | null
}

/** A host's enrolment, as the views show it. */
export type EnrolmentState = {
  readonly state: 'enrolled' | 'never' | 'refused'
  readonly at: number | null
  readonly reason: string | null
}

/** What the control plane knows of a host. */
export type HostFacts = {
  readonly enrolment: EnrolmentState
  /** When its certificate was revoked (its certificate predates the revocation), or null. */
  readonly revokedAt: number | null
  /** An operator's emergency denial of the host (until allowed or revoked), or null. */
  readonly denied: { readonly by: string; readonly reason: string; readonly at: number } | null
  /** When the CP last heard from it (heartbeat or event), or null. */
  readonly lastSeenAt: number | null
  /** The last dispatch or manifest the agent refused (its heartbeat's `last_refusal`). */
  readonly lastRefusal: {
    readonly kind: string
    readonly message: string
    readonly at: number
  } | null
  /** The agent's own I/O problem (its heartbeat's `local_problem`). */
  readonly localProblem: {
    readonly worker: string
    readonly message: string
    readonly since: number
  } | null
  /** When the agent re-anchored its anti-rollback marks (its heartbeat's `reanchored_at`). */
  readonly reanchoredAt: number | null
  /**
   * The closure the host waits for that the CP found missing from the binary cache it checks,
   * the cache, and since when it is known missing; absent or null when none.
   */
  readonly closureMissing?: {
    readonly closure: string
    readonly cache: string
    readonly since: number
  } | null
}

/** Heartbeat intervals without a word before a host counts as offline. */
export const OFFLINE_INTERVALS = 3
/** How long a re-anchor stays a problem. */
export const REANCHOR_NOTICE_MS = 24 * 3_600_000
/** A re-anchor this soon after enrolment is the first anchoring of a new host. */
export const FIRST_ANCHOR_MS = 10 * 60_000

/**
 * A host's enrolment: enrolled once it enrolled or was heard from; refused when the CP's latest
 * refusal of it is newer than any of that; never otherwise.
 */
export function enrolmentOf(
  enrolledAt: number | null,
  lastSeenAt: number | null,
  known: boolean,
  refusal: { readonly at: number; readonly reason: string } | undefined
): EnrolmentState {
  const alive = Math.max(enrolledAt ?? -Infinity, lastSeenAt ?? -Infinity)
  if (refusal !== undefined && refusal.at > alive)
    return { state: 'refused', at: refusal.at, reason: refusal.reason }
  if (known || alive > -Infinity) return { state: 'enrolled', at: enrolledAt, reason: null }
  return { state: 'never', at: null, reason: null }
}

/** The problem of a host, or null when nothing holds it back. */
export function hostProblem(
  facts: HostFacts,
  now: number,
  heartbeatIntervalMs: number
): HostProblem | null {
  const { enrolment } = facts
  if (facts.revokedAt !== null)
    return { kind: 'cert-revoked', message: 'certificate revoked', since: facts.revokedAt }
  if (facts.denied !== null)
    return {
      kind: 'denied',
      message: `denied by ${facts.denied.by}: ${facts.denied.reason}`,
      since: facts.denied.at,
    }
  if (enrolment.state === 'refused')
    return {
      kind: 'enrolment-refused',
      message: `enrolment refused: ${enrolment.reason ?? 'no reason given'}`,
      since: enrolment.at,
    }
  if (enrolment.state === 'never')
    return { kind: 'never-enrolled', message: 'never enrolled', since: null }
  const heard = facts.lastSeenAt ?? enrolment.at
  if (heard !== null && now - heard > OFFLINE_INTERVALS * heartbeatIntervalMs)
    return {
      kind: 'offline',
      message:
        facts.lastSeenAt === null
          ? `not seen since it enrolled ${formatSpan(now - heard)} ago`
          : `not seen for ${formatSpan(now - heard)}`,
      since: heard,
    }
  if (facts.localProblem !== null)
    return {
      kind: 'agent-io-error',
      message: `${facts.localProblem.worker}: ${facts.localProblem.message}`,
      since: facts.localProblem.since,
    }
  if (facts.lastRefusal !== null)
    return {
      kind: 'refused-dispatch',
      message: `refused: ${facts.lastRefusal.kind}: ${facts.lastRefusal.message}`,
      since: facts.lastRefusal.at,
    }
  if (facts.closureMissing != null)
    return {
      kind: 'closure-missing',
      message: `closure ${facts.closureMissing.closure} not in ${facts.closureMissing.cache}; push it with nix copy`,
      since: facts.closureMissing.since,
    }
  const sinceEnrolled =
    enrolment.at === null || facts.reanchoredAt === null ? null : facts.reanchoredAt - enrolment.at
  const firstAnchor =
    sinceEnrolled !== null && sinceEnrolled >= 0 && sinceEnrolled < FIRST_ANCHOR_MS
  if (facts.reanchoredAt !== null && !firstAnchor && now - facts.reanchoredAt < REANCHOR_NOTICE_MS)
    return {
      kind: 'reanchored',
      message: `anti-rollback marks re-anchored ${formatSpan(now - facts.reanchoredAt)} ago`,
      since: facts.reanchoredAt,
    }
  return null
}

/**
 * The few words a gate sentence gives a host's problem: `refused: Stale`, `offline 3m10s`,
 * `certificate revoked`. Refusal messages are the agent's and long: only their kind is named.
 */
export function problemLabel(p: HostProblem, now: number): string {
  switch (p.kind) {
    case 'refused-dispatch':
      return p.message.split(': ').slice(0, 2).join(': ')
    case 'offline':
      return p.since === null ? 'offline' : `offline ${formatSpan(now - p.since)}`
    case 'cert-revoked':
      return 'certificate revoked'
    case 'denied':
      return 'denied'
    case 'never-enrolled':
      return 'never enrolled'
    case 'enrolment-refused':
      return 'enrolment refused'
    case 'agent-io-error':
      return 'agent I/O error'
    case 'reanchored':
      return 're-anchored'
    case 'closure-missing':
      return 'closure not in cache'
  }
}

const UNITS: readonly [string, number][] = [
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
]

/** A duration in its two largest units, zeros left out: `45s`, `1m42s`, `2h`, `3d4h`. */
export function formatSpan(ms: number): string {
  let secs = Math.max(0, Math.floor(ms / 1000))
  const parts: string[] = []
  for (const [unit, size] of UNITS) {
    const n = Math.floor(secs / size)
    secs -= n * size
    if (n > 0 || parts.length > 0) parts.push(n > 0 ? `${n}${unit}` : '')
    if (parts.length === 2) break
  }
  const shown = parts.filter((p) => p !== '').join('')
  return shown === '' ? '0s' : shown
}
