/**
 * Who may hold an agent certificate: revocation by time and the renewal rate (spec protocol.md
 * §7.4, DECISIONS §5). Pure; times are epoch milliseconds from the caller.
 *
 * Invariants:
 * - A revocation covers every certificate of its host issued before the signed `notBefore` *or*
 *   before the CP adopted the entry (rounded up to the next whole second, because certificate
 *   times are whole seconds). A certificate renewed between the two would otherwise outlive the
 *   revocation, renewing itself forever.
 * - The adoption time of an entry is fixed the first time the CP adopts it: a later list that
 *   keeps the entry unchanged, or a restart re-adopting it, does not move it (that would revoke
 *   the host's re-enrolment as well). A changed `notBefore` is a new revocation.
 * - A host renews at most once per quarter of the certificate lifetime, counted from the later
 *   of the presented certificate's `notBefore` and the last issuance to the host.
 */

/** A revocation as the CP holds it: the signed `notBefore` and when the CP adopted it. */
export type RevocationTimes = { readonly notBefore: number; readonly revokedAt: number }

const SECOND_MS = 1000

/** The instant before which certificates of the revoked host are refused. */
export function revocationCutoff(r: RevocationTimes): number {
  return Math.max(r.notBefore, Math.ceil(r.revokedAt / SECOND_MS) * SECOND_MS)
}

/** Whether a certificate issued at `certNotBeforeMs` is revoked by `r`. */
export function certRevoked(certNotBeforeMs: number, r: RevocationTimes | undefined): boolean {
  return r !== undefined && certNotBeforeMs < revocationCutoff(r)
}

/** The adoption time to record for an entry with `notBefore`, given the one held (if any). */
export function revocationAdoptedAt(
  held: RevocationTimes | undefined,
  notBefore: number,
  now: number
): number {
  return held !== undefined && held.notBefore === notBefore ? held.revokedAt : now
}

/** The shortest time between two certificates issued to one host. */
export function renewalIntervalMs(validityMs: number): number {
  return Math.floor(validityMs / 4)
}

/** Whether a renewal may be issued now, or when to ask again. */
export type RenewalVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly kind: 'Revoked' }
  | { readonly ok: false; readonly kind: 'TooSoon'; readonly retryAfterMs: number }

/** The renewal decision for a host presenting a certificate issued at `certNotBeforeMs`. */
export function renewalVerdict(facts: {
  readonly certNotBeforeMs: number
  readonly lastIssuedAt: number | undefined
  readonly revocation: RevocationTimes | undefined
  readonly validityMs: number
  readonly now: number
}): RenewalVerdict {
  if (certRevoked(facts.certNotBeforeMs, facts.revocation)) return { ok: false, kind: 'Revoked' }
  const since = Math.max(facts.certNotBeforeMs, facts.lastIssuedAt ?? -Infinity)
  const due = since + renewalIntervalMs(facts.validityMs)
  return facts.now >= due
    ? { ok: true }
    : { ok: false, kind: 'TooSoon', retryAfterMs: due - facts.now }
}

/**
 * How long an issuance to a revoked host must wait so that its certificate (notBefore = `now`
 * truncated to the second) is not itself revoked: only within the second the CP adopted the
 * revocation; 0 otherwise.
 */
export function issuanceHoldMs(r: RevocationTimes | undefined, now: number): number {
  if (r === undefined) return 0
  const notBefore = Math.floor(now / SECOND_MS) * SECOND_MS
  return notBefore < revocationCutoff(r) ? revocationCutoff(r) - now : 0
}
