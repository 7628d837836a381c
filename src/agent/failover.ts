/**
 * Which control plane the agent talks to (docs/agent.md "Several control planes"): the pure
 * rotation and backoff policy over the configured URLs and, for a name with several addresses,
 * each of its addresses. No I/O, no clock, no randomness of its own: the caller passes a random
 * number in [0, 1) and keeps the time.
 *
 * Invariants:
 * - The agent sticks to the target that answers; only a failure that says "this control plane
 *   cannot serve" (connection failure, timeout, 502/503/504) moves it on.
 * - A failure is counted once: a report about a target the agent has already left (another
 *   request failed first) changes nothing, so concurrent failures never skip a live target.
 * - Each move waits a full-jitter backoff: uniform in [0, min(cap, base·2^(failures-1))], so a
 *   fleet leaving a dead control plane does not arrive at the next one in lockstep.
 * - A success (any answer other than the failures above) forgets the failures.
 */
import type { ClientError } from './cp-errors.ts'

/** The first move waits up to 1 s; later ones double, up to the cap. */
export const FAILOVER_BASE_MS = 1_000
/** The longest wait between two moves (below it when `--backoff-max-secs` is lower). */
export const FAILOVER_CAP_MS = 30_000

/** Where the agent is: URL `url`, address `addr` of that URL's addresses. */
export type FailoverState = {
  readonly url: number
  readonly addr: number
  /** Consecutive failures since the last answer. */
  readonly failures: number
  /** Counts moves, so a report about a target already left is recognised. */
  readonly epoch: number
}

/** The initial state: the first URL, its first address. */
export const initialFailover: FailoverState = { url: 0, addr: 0, failures: 0, epoch: 0 }

/** What a failure report leads to. */
export type FailoverMove = {
  readonly state: FailoverState
  /** False when the report was stale (the agent had already moved): nothing else changes. */
  readonly moved: boolean
  /** The agent entered another URL (its addresses are to be looked up afresh). */
  readonly newUrl: boolean
  /** How long to wait before the next request (0 when not moved). */
  readonly delayMs: number
}

/** Why a failed request moves the agent to the next control plane, or undefined if it does not. */
export function failoverReason(error: ClientError): string | undefined {
  switch (error.kind) {
    case 'network':
      return `connection failed (${error.code ?? error.message})`
    case 'timeout':
      return 'timed out'
    case 'config':
      return 'TLS: the certificate does not name this control plane'
    case 'status':
      return error.status === 502 || error.status === 503 || error.status === 504
        ? `HTTP ${error.status}`
        : undefined
    default:
      return undefined
  }
}

/** The full-jitter backoff before the move after `failures` consecutive failures (≥ 1). */
export function failoverDelayMs(failures: number, random: number, capMs: number): number {
  const ceiling = Math.min(capMs, FAILOVER_BASE_MS * 2 ** Math.min(Math.max(failures - 1, 0), 30))
  return Math.floor(Math.min(Math.max(random, 0), 1) * ceiling)
}

/**
 * The state after a failure of the request sent at `epoch` to the current target. `addrCount`
 * is the number of addresses of the current URL (1 when it is used by name), `urlCount` the
 * number of URLs.
 */
export function afterFailure(
  s: FailoverState,
  o: {
    readonly epoch: number
    readonly urlCount: number
    readonly addrCount: number
    readonly random: number
    readonly capMs: number
  }
): FailoverMove {
  if (o.epoch !== s.epoch) return { state: s, moved: false, newUrl: false, delayMs: 0 }
  const failures = s.failures + 1
  const nextAddr = s.addr + 1 < o.addrCount
  const state: FailoverState = {
    url: nextAddr ? s.url : (s.url + 1) % o.urlCount,
    addr: nextAddr ? s.addr + 1 : 0,
    failures,
    epoch: s.epoch + 1,
  }
  return {
    state,
    moved: true,
    newUrl: !nextAddr,
    delayMs: failoverDelayMs(failures, o.random, o.capMs),
  }
}

/** The state after an answer: the same target, no failures. */
export function afterSuccess(s: FailoverState): FailoverState {
  return s.failures === 0 ? s : { ...s, failures: 0 }
}
