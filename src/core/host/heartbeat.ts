/**
 * What a heartbeat implies for a host's records on the control plane. An agent that already
 * runs a record's target, holding no event the CP lacks, is not dispatched again: the CP
 * synthesizes the events the agent would have sent (activation completed; or, for a Pending
 * host, ack + completion + convergence). Also where an agent is told to replay events from.
 *
 * Invariants (do not change without a design update):
 * - Synthesis needs the heartbeat's closure to be the record's target and the agent's own last
 *   seq for the rollout to be no later than the record's: an agent holding events the CP has not
 *   seen will deliver them (outbox or replay), and synthesizing first would take their seqs.
 * - A Pending host is converged only where the planner's latest verdict would dispatch it (or
 *   only the disruption budget holds it, which a host already at its target never enters), and
 *   only in an open rollout that is not halted; otherwise the next plan pass decides.
 * - Synthesized events are numbered after the record's last seq, one by one, as an agent would.
 */
import { isClosed, type RolloutRecord } from '../rollout/state.ts'
import type { HostEvent } from './events.ts'
import type { HostPolicy, HostRolloutState } from './state.ts'

/** A host's latest heartbeat, as synthesis reads it. */
export type HeartbeatView = {
  /** The closure the host runs, if it said. */
  readonly closure: string | null
  /** The agent's own last event seq per rollout. */
  readonly seqs: Readonly<Record<string, number>>
}

/** What a heartbeat calls for on one record of its host. */
export type HeartbeatSynthesis =
  /** Nothing: not at the target, or holding events the CP lacks, or nothing to synthesize. */
  | { readonly type: 'none' }
  /** Activating or Deferred host now running its target: its activation completed. */
  | { readonly type: 'complete'; readonly event: HostEvent }
  /** Pending host the planner would dispatch: converge it by synthesis. */
  | { readonly type: 'converge' }
  /** Pending host a gate holds: the next plan pass decides (and may converge it). */
  | { readonly type: 'replan' }

const NONE: HeartbeatSynthesis = { type: 'none' }
const CONVERGE: HeartbeatSynthesis = { type: 'converge' }
const REPLAN: HeartbeatSynthesis = { type: 'replan' }

/** Whether a heartbeat shows the host at the record's target with no event the CP lacks. */
export function atTarget(hb: HeartbeatView, rec: HostRolloutState): boolean {
  return hb.closure === rec.targetClosure && (hb.seqs[rec.rolloutId] ?? 0) <= rec.lastEventSeq
}

/**
 * Whether the planner's latest verdict for a Pending host (`'queue'` or the holding gate) lets
 * a host already at its target converge: it would be dispatched, or only the budget holds it.
 */
export function verdictAllowsConvergence(verdict: string | undefined): boolean {
  return verdict === 'queue' || verdict === 'disruption-budget'
}

/** What a heartbeat received at `at` calls for on `rec`, given the planner's latest verdict. */
export function heartbeatSynthesis(
  rec: HostRolloutState,
  hb: HeartbeatView,
  at: number,
  verdict: string | undefined
): HeartbeatSynthesis {
  if (!atTarget(hb, rec)) return NONE
  switch (rec.phase) {
    case 'Activating':
    case 'Deferred':
      return {
        type: 'complete',
        event: {
          type: 'RemoteActivationCompleted',
          seq: rec.lastEventSeq + 1,
          observedCurrentClosure: rec.targetClosure,
          exitCode: 0,
          completedAt: at,
        },
      }
    case 'Pending':
      return verdictAllowsConvergence(verdict) ? CONVERGE : REPLAN
    default:
      return NONE
  }
}

/** Whether a record may be converged by synthesis: Pending, in an open rollout not halted. */
export function convergenceAllowed(
  rec: HostRolloutState,
  rollout: RolloutRecord | undefined
): boolean {
  return (
    rollout !== undefined &&
    rollout.halt === null &&
    !isClosed(rollout.phase) &&
    rec.phase === 'Pending'
  )
}

/**
 * The first events of converging a Pending host already at its target: the dispatch ack and a
 * successful activation, at `at`. The prior closure is unknown (the host was already at its
 * target), so the ack carries '' as the reference does.
 */
export function synthesizedActivation(rec: HostRolloutState, at: number): readonly HostEvent[] {
  const seq = rec.lastEventSeq
  return [
    { type: 'RemoteDispatchAck', seq: seq + 1, currentClosureAtDispatch: '', receivedAt: at },
    {
      type: 'RemoteActivationCompleted',
      seq: seq + 2,
      observedCurrentClosure: rec.targetClosure,
      exitCode: 0,
      completedAt: at,
    },
  ]
}

/**
 * The policy those synthesized events are stepped under: no on-host soak. The host activated
 * nothing, and a soak due after `at` would need a future `convergedAt`; its soak runs on the
 * control plane's clock instead, from the heartbeat, before anything it gates is promoted.
 */
export function synthesisPolicy(policy: HostPolicy): HostPolicy {
  return { ...policy, soakMs: 0 }
}

/** The last event of that synthesis, on the soaking record: converged at `at`, never later. */
export function synthesizedConverged(soaking: HostRolloutState, at: number): HostEvent {
  return {
    type: 'RemoteConverged',
    seq: soaking.lastEventSeq + 1,
    convergedAt: at,
    currentClosure: soaking.targetClosure,
  }
}

/**
 * The seq an agent should replay its events of a rollout from (the record's last), or null:
 * when the agent holds events past the record (`agentLast`), or runs another closure than the
 * record last saw (`closure`, when the heartbeat named one).
 */
export function replayFrom(
  rec: HostRolloutState,
  agentLast: number | undefined,
  closure: string | null
): number | null {
  const behind = agentLast !== undefined && agentLast > rec.lastEventSeq
  const diverged = closure !== null && rec.currentClosure !== closure
  return behind || diverged ? rec.lastEventSeq : null
}
