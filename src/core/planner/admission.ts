/**
 * Dispatch admission: what the control plane does with a host the planner would dispatch
 * (`QueueDispatch`) or defers (`DeferDispatch`), given what only the CP knows — the host's
 * latest heartbeat, whether a dispatch of the pair is queued or was delivered lately, and how
 * long ago the CP started. The planner sees records; this sees the delivery around them.
 *
 * Invariants (do not change without a design update):
 * - A host already running its target with no event the CP lacks is converged by synthesis,
 *   never dispatched; the same when only the disruption budget defers it (a host at its target
 *   never enters flight, so a full budget does not hold it).
 * - A queued dispatch is not queued twice; a delivered one is queued again only once
 *   `redeliverAfterMs` passed without the host acknowledging it.
 * - After a start, a host is not dispatched before its first heartbeat since then or the end of
 *   the startup hold, so a CP rebuilt from nothing does not re-activate converged hosts. The
 *   startup hold is not a planner gate: it reports under its own name, `startup-hold`.
 */
import { atTarget, verdictAllowsConvergence, type HeartbeatView } from '../host/heartbeat.ts'
import type { HostRolloutState } from '../host/state.ts'
import type { GateName } from './types.ts'

/** The gate name the startup hold reports under (status, `gate_decision` rows). */
export const STARTUP_HOLD_GATE = 'startup-hold'

/** The admission settings: when the CP started and its two delays. */
export type AdmissionPolicy = {
  readonly startedAt: number
  /** How long after start a host that has not heartbeated yet is held back from dispatch. */
  readonly startupDispatchHoldMs: number
  /** How long a delivered but unacknowledged dispatch waits before it is queued again. */
  readonly redeliverAfterMs: number
}

/** What the CP knows about a pair the planner would dispatch. */
export type DispatchFacts = {
  readonly record: HostRolloutState
  /** The host's latest heartbeat since the CP started (`at`: the agent's time), if any. */
  readonly heartbeat: (HeartbeatView & { readonly at: number }) | undefined
  /** Whether a dispatch of the pair is queued, undelivered. */
  readonly queued: boolean
  /** When a dispatch of the pair was last delivered, if ever since start. */
  readonly deliveredAt: number | undefined
  readonly now: number
}

/** What to do with a host the planner would dispatch. */
export type DispatchAdmission =
  /** Already at its target: converge it by synthesis instead, as of the heartbeat's time. */
  | { readonly type: 'converge'; readonly at: number }
  /** Queued already, or delivered and not yet due for redelivery: nothing to do. */
  | { readonly type: 'wait' }
  /** Held back (startup hold), with the reason operators read. */
  | { readonly type: 'hold'; readonly gate: typeof STARTUP_HOLD_GATE; readonly reason: string }
  /** Queue the dispatch. */
  | { readonly type: 'queue' }

/** Whether the startup hold is still running at `now`. */
export function inStartupHold(now: number, policy: AdmissionPolicy): boolean {
  return now < policy.startedAt + policy.startupDispatchHoldMs
}

/** The admission of a host the planner would dispatch. */
export function admitDispatch(f: DispatchFacts, policy: AdmissionPolicy): DispatchAdmission {
  const { record: rec, heartbeat: hb, now } = f
  if (hb !== undefined && atTarget(hb, rec)) return { type: 'converge', at: hb.at }
  if (f.queued) return { type: 'wait' }
  if (f.deliveredAt !== undefined && now - f.deliveredAt < policy.redeliverAfterMs)
    return { type: 'wait' }
  if (hb === undefined && inStartupHold(now, policy)) {
    const secs = Math.ceil((policy.startedAt + policy.startupDispatchHoldMs - now) / 1000)
    return {
      type: 'hold',
      gate: STARTUP_HOLD_GATE,
      reason: `waiting for ${rec.hostname}'s first heartbeat since the control plane started (at most ${secs} s more), so a host already at its target is not dispatched again`,
    }
  }
  return { type: 'queue' }
}

/** Whether a host a gate defers is converged by synthesis instead (else the gate is recorded). */
export function convergesDespite(
  gate: GateName,
  rec: HostRolloutState,
  hb: HeartbeatView
): boolean {
  return verdictAllowsConvergence(gate) && atTarget(hb, rec)
}
