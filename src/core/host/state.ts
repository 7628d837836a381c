/**
 * The per-host rollout record (`HostRolloutState`, spec §1.1–1.2): one host's progress through
 * one rollout, shared verbatim by the agent and the control plane's mirror.
 *
 * Invariants (do not change without a design update):
 * - Plain JSON: times are epoch milliseconds (`number`), absent values are `null`, probes live in
 *   a record keyed by probe name. No Map, Set, Date or class instances.
 * - `newPendingHost` is the only way to create a record; every later value comes from `step`.
 * - `soakDueAt` is `null` until the host's own activation completes; it is then
 *   `activationCompletedAt + policy.soakMs` (DECISIONS §3.5), never the rollout-open time.
 * - `lastEventSeq` only grows; `step` rejects any event whose seq is not above it.
 */
import type { HostPhase } from '../../proto/phases.ts'
import type { OnHealthFailure } from '../types.ts'

/** The seven host states, defined once in proto (DB and wire strings are identical). */
export type { HostPhase }

// Core may only import types from proto, so it keeps its own value list; a record keyed by the
// type makes the compiler reject a missing or unknown state, so the two cannot drift.
const PHASES: Readonly<Record<HostPhase, true>> = {
  Pending: true,
  Activating: true,
  Deferred: true,
  Soaking: true,
  Converged: true,
  Failed: true,
  Reverted: true,
}

/** The host states in table order, for iteration in tests and UIs. */
export const HOST_PHASES = Object.keys(PHASES) as readonly HostPhase[]

/** The probe status on the wire. */
export type ProbeStatus = 'pass' | 'fail'

/** The probe mode: only `enforce` probes gate convergence and trigger sustained failure. */
export type ProbeMode = 'enforce' | 'observe' | 'disabled'

/** The probe declaration announced by `ProbeTopologyDeclared`. */
export type ProbeDecl = {
  readonly probeName: string
  readonly kind: string
  readonly mode: ProbeMode
}

/** The latest known result of one probe since the host's activation completed. */
export type ProbeRecord = {
  readonly status: ProbeStatus
  readonly mode: ProbeMode
  readonly lastObservedAt: number
  readonly lastPassAt: number | null
  /** The start of the current unbroken run of failures, `null` while passing. */
  readonly failingSince: number | null
  readonly failureReason: string | null
}

/** The per-host rollout record. */
export type HostRolloutState = {
  readonly rolloutId: string
  readonly hostname: string
  readonly channel: string
  readonly phase: HostPhase
  readonly targetClosure: string
  readonly currentClosureAtDispatch: string | null
  readonly currentClosure: string | null
  readonly revertedTo: string | null
  readonly dispatchedAt: number
  readonly dispatchAckedAt: number | null
  readonly activationStartedAt: number | null
  readonly activationCompletedAt: number | null
  readonly activationFailedAt: number | null
  readonly probeObservedFirstAt: number | null
  readonly probeFailureFirstAt: number | null
  readonly soakDueAt: number | null
  readonly convergedAt: number | null
  readonly failedAt: number | null
  readonly policyApplied: OnHealthFailure | null
  readonly revertedAt: number | null
  /** The probes the agent declared after activation; `null` until declared (none ⇒ soak only). */
  readonly probeTopology: readonly ProbeDecl[] | null
  readonly probes: Readonly<Record<string, ProbeRecord>>
  readonly lastEventSeq: number
}

/** The policy `step` applies to one host, resolved from the signed fleet (see `policy.ts`). */
export type HostPolicy = {
  readonly onHealthFailure: OnHealthFailure
  /** How long the host soaks after its own activation completes. */
  readonly soakMs: number
  /** How long an enforce probe must fail without a break before the host fails. */
  readonly sustainedFailureMs: number
}

/** The identity and target of a new record. */
export type NewPendingHost = {
  readonly rolloutId: string
  readonly hostname: string
  readonly channel: string
  readonly targetClosure: string
  /** The CP's wall clock when it created the record (or the agent's on first dispatch). */
  readonly dispatchedAt: number
}

/** The Pending record for a host joining a rollout (seq 0, nothing observed yet). */
export function newPendingHost(init: NewPendingHost): HostRolloutState {
  return {
    rolloutId: init.rolloutId,
    hostname: init.hostname,
    channel: init.channel,
    phase: 'Pending',
    targetClosure: init.targetClosure,
    currentClosureAtDispatch: null,
    currentClosure: null,
    revertedTo: null,
    dispatchedAt: init.dispatchedAt,
    dispatchAckedAt: null,
    activationStartedAt: null,
    activationCompletedAt: null,
    activationFailedAt: null,
    probeObservedFirstAt: null,
    probeFailureFirstAt: null,
    soakDueAt: null,
    convergedAt: null,
    failedAt: null,
    policyApplied: null,
    revertedAt: null,
    probeTopology: null,
    probes: {},
    lastEventSeq: 0,
  }
}
