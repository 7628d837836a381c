/**
 * Test fixtures for the host machine: the reference scenario's record (rollout "r1", host
 * "web-01", channel "stable", target "target-closure-abc", t0 = 2026-05-16T01:00Z), policies,
 * and a builder that makes a valid event of any type. Pure data; used only by tests.
 */
import { assertNever } from '../lib/assert-never.ts'
import type { HostEvent, HostEventType } from './events.ts'
import { newPendingHost, type HostPhase, type HostPolicy, type HostRolloutState } from './state.ts'

/** The scenario epoch, 2026-05-16T01:00:00Z in ms. */
export const T0 = 1_778_893_200_000
/** One minute in ms. */
export const MIN = 60_000
/** The scenario's target closure. */
export const TARGET = 'target-closure-abc'
/** The closure the host ran before dispatch. */
export const PRIOR = 'prior-closure'

/** The scenario policy: rollback-and-halt, 5 min soak, 60 s sustained failure. */
export const ROLLBACK_POLICY: HostPolicy = {
  onHealthFailure: 'rollback-and-halt',
  soakMs: 5 * MIN,
  sustainedFailureMs: 60_000,
}
/** The same policy with `halt`. */
export const HALT_POLICY: HostPolicy = { ...ROLLBACK_POLICY, onHealthFailure: 'halt' }

/** The scenario's fresh Pending record, dispatched at t0. */
export function pending(): HostRolloutState {
  return newPendingHost({
    rolloutId: 'r1',
    hostname: 'web-01',
    channel: 'stable',
    targetClosure: TARGET,
    dispatchedAt: T0,
  })
}

/** Knobs for `makeEvent`; defaults give an event that is valid in its legal state. */
export type EventKnobs = {
  readonly at?: number
  readonly closure?: string
  readonly probeName?: string
  readonly status?: 'pass' | 'fail'
  readonly mode?: 'enforce' | 'observe' | 'disabled'
  readonly policy?: 'halt' | 'rollback-and-halt'
}

/** A well-formed event of `type` with `seq`, times at `knobs.at` (default t0). */
export function makeEvent(type: HostEventType, seq: number, knobs: EventKnobs = {}): HostEvent {
  const at = knobs.at ?? T0
  const closure = knobs.closure ?? TARGET
  const probeName = knobs.probeName ?? 'http'
  const mode = knobs.mode ?? 'enforce'
  const status = knobs.status ?? 'pass'
  const policy = knobs.policy ?? 'rollback-and-halt'
  switch (type) {
    case 'LocalActivate':
      return { type, seq, currentClosureAtDispatch: PRIOR, targetClosure: closure, receivedAt: at }
    case 'RemoteDispatchAck':
      return { type, seq, currentClosureAtDispatch: PRIOR, receivedAt: at }
    case 'LocalActivationStarted':
    case 'RemoteActivationStarted':
      return { type, seq, startedAt: at, switchMethod: 'switch-to-configuration' }
    case 'LocalActivationCompleted':
    case 'RemoteActivationCompleted':
      return { type, seq, observedCurrentClosure: closure, exitCode: 0, completedAt: at }
    case 'LocalActivationDeferred':
    case 'RemoteActivationDeferred':
      return { type, seq, component: 'systemd', deferredAt: at }
    case 'LocalActivationFailed':
    case 'RemoteActivationFailed':
      return { type, seq, exitCode: 1, stderrTail: 'boom', failedAt: at }
    case 'LocalProbeTopologyDeclared':
    case 'RemoteProbeTopologyDeclared':
      return { type, seq, probes: [{ probeName, kind: 'http', mode }], declaredAt: at }
    case 'LocalProbeObservedFirst':
    case 'RemoteProbeObservedFirst':
      return { type, seq, probeName, mode, observedAt: at }
    case 'LocalProbeResult':
    case 'RemoteProbeResult':
      return {
        type,
        seq,
        probeName,
        mode,
        status,
        observedAt: at,
        failureReason: status === 'fail' ? 'connection refused' : null,
        subResults: null,
      }
    case 'LocalProbeFailureFirst':
    case 'RemoteProbeFailureFirst':
      return { type, seq, probeName, mode, firstFailedAt: at }
    case 'LocalSustainedFailureCrossed':
    case 'RemoteFailed':
      return {
        type,
        seq,
        failedAt: at,
        sustainedDurationSecs: 60,
        failingProbes: [probeName],
        policyApplied: policy,
      }
    case 'LocalRollbackCompleted':
    case 'RemoteRollbackComplete':
      return { type, seq, revertedToClosure: PRIOR, exitCode: 0, completedAt: at }
    case 'LocalConvergedReached':
    case 'RemoteConverged':
      return { type, seq, convergedAt: at, currentClosure: closure }
    default:
      return assertNever(type, 'event type')
  }
}

/**
 * A record in `phase` as the happy path (or its failure branches) leaves it, with
 * `lastEventSeq` = `seq`: acked at t0, activation completed at t0+1m (soak due t0+6m).
 */
export function inPhase(phase: HostPhase, seq = 3): HostRolloutState {
  const base = pending()
  const acked = { ...base, currentClosureAtDispatch: PRIOR, dispatchAckedAt: T0 }
  const completed = {
    ...acked,
    activationCompletedAt: T0 + MIN,
    currentClosure: TARGET,
    soakDueAt: T0 + 6 * MIN,
  }
  const failed = {
    ...completed,
    failedAt: T0 + 3 * MIN,
    policyApplied: 'rollback-and-halt' as const,
  }
  const byPhase: Record<HostPhase, HostRolloutState> = {
    Pending: base,
    Activating: { ...acked, phase: 'Activating' },
    Deferred: { ...acked, phase: 'Deferred' },
    Soaking: { ...completed, phase: 'Soaking' },
    Converged: { ...completed, phase: 'Converged', convergedAt: T0 + 6 * MIN },
    Failed: { ...failed, phase: 'Failed' },
    Reverted: {
      ...failed,
      phase: 'Reverted',
      revertedAt: T0 + 4 * MIN,
      revertedTo: PRIOR,
      currentClosure: PRIOR,
    },
  }
  return { ...byPhase[phase], lastEventSeq: seq }
}

/**
 * The legal (state, event) pairs of spec §1.6, written out by hand so tests check the table
 * against the code instead of deriving it from the code.
 */
export const LEGAL_EVENTS: Readonly<Record<HostPhase, readonly HostEventType[]>> = {
  Pending: ['LocalActivate', 'RemoteDispatchAck'],
  Activating: [
    'LocalActivationStarted',
    'RemoteActivationStarted',
    'LocalActivationCompleted',
    'RemoteActivationCompleted',
    'LocalActivationDeferred',
    'RemoteActivationDeferred',
    'LocalActivationFailed',
    'RemoteActivationFailed',
  ],
  Deferred: [
    'LocalActivationCompleted',
    'RemoteActivationCompleted',
    'LocalActivationFailed',
    'RemoteActivationFailed',
  ],
  Soaking: [
    'LocalProbeTopologyDeclared',
    'RemoteProbeTopologyDeclared',
    'LocalProbeObservedFirst',
    'RemoteProbeObservedFirst',
    'LocalProbeResult',
    'RemoteProbeResult',
    'LocalProbeFailureFirst',
    'RemoteProbeFailureFirst',
    'LocalSustainedFailureCrossed',
    'RemoteFailed',
    'LocalConvergedReached',
    'RemoteConverged',
  ],
  Converged: [],
  Failed: ['LocalRollbackCompleted', 'RemoteRollbackComplete'],
  Reverted: [],
}
