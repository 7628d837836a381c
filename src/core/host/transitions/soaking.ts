/**
 * Transitions out of `Soaking`: probe facts update the record without a phase change; a
 * sustained failure moves to Failed (rollback under `rollback-and-halt`); convergence moves to
 * Converged only if `convergenceViolations` is empty (same guard on both sides).
 *
 * Invariants:
 * - A probe's `failingSince` survives consecutive failures and is cleared by a pass.
 * - `probeObservedFirstAt` / `probeFailureFirstAt` are set once and never cleared (wire fields).
 * - A probe result is reported durably when it is the probe's first or changes its status: the
 *   CP mirror's convergence guard depends on exactly those, so they must not be lost.
 */
import type { HostEvent, HostEventOf } from '../events.ts'
import { convergenceViolations } from '../health.ts'
import type { HostRolloutState, ProbeRecord } from '../state.ts'
import {
  illegal,
  invariant,
  moved,
  ok,
  report,
  rollbackEffects,
  type HostStepResult,
} from './shared.ts'

/** The step for a record in `Soaking`. */
export function fromSoaking(state: HostRolloutState, event: HostEvent): HostStepResult {
  switch (event.type) {
    case 'LocalProbeTopologyDeclared':
    case 'RemoteProbeTopologyDeclared':
      return ok({ ...state, probeTopology: event.probes.map((p) => ({ ...p })) }, event, [
        report(state, event, true),
      ])
    case 'LocalProbeObservedFirst':
    case 'RemoteProbeObservedFirst':
      return ok(
        { ...state, probeObservedFirstAt: state.probeObservedFirstAt ?? event.observedAt },
        event,
        [report(state, event, false)]
      )
    case 'LocalProbeResult':
    case 'RemoteProbeResult':
      return probeResult(state, event)
    case 'LocalProbeFailureFirst':
    case 'RemoteProbeFailureFirst':
      return ok(
        { ...state, probeFailureFirstAt: state.probeFailureFirstAt ?? event.firstFailedAt },
        event,
        [report(state, event, false)]
      )
    case 'LocalSustainedFailureCrossed':
    case 'RemoteFailed': {
      const next: HostRolloutState = {
        ...state,
        phase: 'Failed',
        failedAt: event.failedAt,
        policyApplied: event.policyApplied,
      }
      const rollback = rollbackEffects(state, event, event.policyApplied)
      return ok(
        next,
        event,
        moved(state, event, 'Failed', event.failedAt, { localAfter: rollback })
      )
    }
    case 'LocalConvergedReached':
    case 'RemoteConverged': {
      const violations = convergenceViolations(state, event.convergedAt, event.currentClosure)
      if (violations.length > 0) return invariant(state, event, violations)
      const next: HostRolloutState = {
        ...state,
        phase: 'Converged',
        convergedAt: event.convergedAt,
        currentClosure: event.currentClosure,
      }
      return ok(next, event, moved(state, event, 'Converged', event.convergedAt))
    }
    default:
      return illegal(state, event)
  }
}

function probeResult(
  state: HostRolloutState,
  event: HostEventOf<'LocalProbeResult' | 'RemoteProbeResult'>
): HostStepResult {
  const prev = state.probes[event.probeName]
  const passed = event.status === 'pass'
  const record: ProbeRecord = {
    status: event.status,
    mode: event.mode,
    lastObservedAt: event.observedAt,
    lastPassAt: passed ? event.observedAt : (prev?.lastPassAt ?? null),
    failingSince: passed
      ? null
      : prev?.status === 'fail'
        ? (prev.failingSince ?? event.observedAt)
        : event.observedAt,
    failureReason: passed ? null : event.failureReason,
  }
  const durable = prev === undefined || prev.status !== event.status
  return ok({ ...state, probes: { ...state.probes, [event.probeName]: record } }, event, [
    report(state, event, durable),
  ])
}
