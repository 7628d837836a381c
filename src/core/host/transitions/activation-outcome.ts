/**
 * The activation outcomes shared by `Activating` and `Deferred` (a deferred host completes or
 * fails when it reboots): completion starts the host's own soak, failure applies the policy.
 * Invariants: completion clears the probe records and topology (probes restart against the new
 * system) and sets `soakDueAt = completedAt + soakMs` (DECISIONS §3.5); failure from either
 * state records `policyApplied` and fires the rollback under `rollback-and-halt` (§3.4, §3.7).
 */
import type { HostEventOf } from '../events.ts'
import type { HostRolloutState } from '../state.ts'
import { moved, ok, rollbackEffects, type HostStepResult, type StepContext } from './shared.ts'

/** The arm for `*ActivationCompleted`: → Soaking. */
export function activationCompleted(
  state: HostRolloutState,
  event: HostEventOf<'LocalActivationCompleted' | 'RemoteActivationCompleted'>,
  ctx: StepContext
): HostStepResult {
  const next: HostRolloutState = {
    ...state,
    phase: 'Soaking',
    activationCompletedAt: event.completedAt,
    currentClosure: event.observedCurrentClosure,
    soakDueAt: event.completedAt + ctx.policy.soakMs,
    probes: {},
    probeTopology: null,
  }
  const reset = { type: 'LocalResetProbeCache', rolloutId: state.rolloutId } as const
  return ok(
    next,
    event,
    moved(state, event, 'Soaking', event.completedAt, { localBefore: [reset] })
  )
}

/** The arm for `*ActivationFailed`: → Failed, applying the policy. */
export function activationFailed(
  state: HostRolloutState,
  event: HostEventOf<'LocalActivationFailed' | 'RemoteActivationFailed'>,
  ctx: StepContext
): HostStepResult {
  const policy = ctx.policy.onHealthFailure
  const next: HostRolloutState = {
    ...state,
    phase: 'Failed',
    activationFailedAt: event.failedAt,
    failedAt: event.failedAt,
    policyApplied: policy,
  }
  const rollback = rollbackEffects(state, event, policy)
  return ok(next, event, moved(state, event, 'Failed', event.failedAt, { localAfter: rollback }))
}
