/**
 * The operator's actions on an open rollout (resume, cancel, retry a host, skip a host): whether
 * each is legal now and what it does, decided from the rollout record, its hosts and the
 * channel's quarantines. The CP mutator is the only caller; it applies the answer (a rollout
 * event for `stepRollout`, or a host to re-dispatch or skip).
 *
 * Invariants (what makes a rollout impossible to wedge):
 * - `cancel` is accepted for every open rollout; every action is refused once it is closed.
 * - `resume` is accepted exactly when the rollout is halted; otherwise the refusal names what the
 *   rollout waits on and the action that moves it (retry, skip, or cancel).
 * - `retry` takes a Failed (not rolling back) or Reverted, unskipped host back to Pending, once
 *   its target is no longer quarantined on the channel; `skip` marks any unconverged host done
 *   for promotion and completion, and a skipped host is never dispatched again in the rollout.
 * - Refusals are 404 (no such host in the rollout) or 409 (not now), with a sentence that says
 *   why and what to do.
 */
import type { HostPhase } from '../host/state.ts'
import type { OnHealthFailure } from '../types.ts'
import type { RolloutEvent } from './events.ts'
import { isClosed, type RolloutRecord } from './state.ts'

/** What an action needs to know about one host of the rollout. */
export type ActionHost = {
  readonly hostname: string
  readonly phase: HostPhase
  /** The host's gating wave (position in the channel's waves); 0 when unstaged. */
  readonly wave: number
  readonly targetClosure: string
  readonly policyApplied: OnHealthFailure | null
  readonly skipped: boolean
}

/** The facts an operator action is decided from. */
export type ActionFacts = {
  readonly record: RolloutRecord
  readonly hosts: readonly ActionHost[]
  /** The closures quarantined on the rollout's channel. */
  readonly quarantined: ReadonlySet<string>
}

/** An operator action on a rollout. */
export type RolloutAction = {
  readonly operator: string
  readonly reason: string
  readonly at: number
} & (
  | { readonly kind: 'resume' | 'cancel' }
  | { readonly kind: 'retry' | 'skip'; readonly hostname: string }
)

/** The decision about an action: refused, a rollout event to step, or a host to change. */
export type ActionDecision =
  | { readonly ok: false; readonly status: 404 | 409; readonly error: string }
  | { readonly ok: true; readonly event: RolloutEvent }
  | { readonly ok: true; readonly host: string; readonly change: 'retry' | 'skip' }

/** Whether a host blocks its wave until an operator acts: failed for good and not skipped. */
export function isBlocked(h: ActionHost): boolean {
  if (h.skipped) return false
  return h.phase === 'Reverted' || (h.phase === 'Failed' && h.policyApplied !== 'rollback-and-halt')
}

/** The hosts that wait on an operator, by wave then name. */
export function blockedHosts(hosts: readonly ActionHost[]): ActionHost[] {
  return hosts
    .filter(isBlocked)
    .sort((a, b) => a.wave - b.wave || (a.hostname < b.hostname ? -1 : 1))
}

/** `web-01 Reverted (wave 0), db-1 Failed (wave 2)`. */
function describeBlocked(hosts: readonly ActionHost[]): string {
  return hosts.map((h) => `${h.hostname} ${h.phase} (wave ${h.wave})`).join(', ')
}

function refuse(status: 404 | 409, error: string): ActionDecision {
  return { ok: false, status, error }
}

/** Decides an operator action. */
export function decideRolloutAction(facts: ActionFacts, action: RolloutAction): ActionDecision {
  const r = facts.record
  const id = r.rolloutId
  if (isClosed(r.phase)) return refuse(409, `rollout ${id} is closed (${r.phase}); nothing to do`)
  const { operator, reason, at } = action
  switch (action.kind) {
    case 'cancel':
      return { ok: true, event: { type: 'OperatorCancelled', rolloutId: id, operator, reason, at } }
    case 'resume': {
      if (r.halt !== null)
        return {
          ok: true,
          event: { type: 'OperatorClearance', rolloutId: id, operator, reason, at },
        }
      const blocked = blockedHosts(facts.hosts)
      if (blocked.length === 0)
        return refuse(409, `rollout ${id} is not halted (state ${r.phase}); nothing to resume`)
      return refuse(
        409,
        `rollout ${id} is not halted but waits on ${describeBlocked(blocked)}: ` +
          'retry a host (once its closure is no longer quarantined), skip it, or cancel the rollout'
      )
    }
    case 'retry':
    case 'skip':
      return decideHostAction(facts, action.kind, action.hostname)
  }
}

function decideHostAction(
  facts: ActionFacts,
  kind: 'retry' | 'skip',
  hostname: string
): ActionDecision {
  const id = facts.record.rolloutId
  const h = facts.hosts.find((x) => x.hostname === hostname)
  if (h === undefined) return refuse(404, `host ${hostname} has no record in rollout ${id}`)
  if (h.skipped) {
    return refuse(
      409,
      `host ${hostname} was skipped in rollout ${id}; a skipped host is not dispatched again ` +
        'in this rollout (a new release dispatches it)'
    )
  }
  if (kind === 'skip') {
    if (h.phase === 'Converged')
      return refuse(409, `host ${hostname} already converged in rollout ${id}; nothing to skip`)
    return { ok: true, host: hostname, change: 'skip' }
  }
  if (h.phase === 'Failed' && h.policyApplied === 'rollback-and-halt')
    return refuse(409, `host ${hostname} is rolling back; retry it once it is Reverted`)
  if (h.phase !== 'Failed' && h.phase !== 'Reverted') {
    return refuse(
      409,
      `host ${hostname} is ${h.phase} in rollout ${id}; only a Failed or Reverted host can be retried`
    )
  }
  if (facts.quarantined.has(h.targetClosure)) {
    return refuse(
      409,
      `closure ${h.targetClosure} is quarantined on channel ${facts.record.channel}; clear the ` +
        'quarantine first (POST /v1/operator/quarantines/clear), then retry'
    )
  }
  return { ok: true, host: hostname, change: 'retry' }
}
