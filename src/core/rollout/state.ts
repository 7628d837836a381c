/**
 * The rollout-level record (spec §2.1, RFC-0008) plus the `halt` condition of DECISIONS §3.4.
 *
 * Invariants (do not change without a design update):
 * - `terminalAt` is set exactly when the phase became Terminal; `supersededAt` when it became
 *   Superseded. Failed and Reverted set neither.
 * - `currentWave` never decreases.
 * - `lastHalt` is the latest halt, kept after a resume, a supersede or a cancel (history);
 *   `cancelled` is set exactly when the phase became Cancelled (and kept if it is pruned later);
 *   `supersededBy` names the successor once Superseded.
 * - `halt !== null` only in Failed or Reverted: a host failure under `halt` or
 *   `rollback-and-halt` (the only policies there are) halts the rollout; an operator resume
 *   (`OperatorClearance`) or a superseding release clears it (and so does pruning). While
 *   halted the planner dispatches nothing for the rollout, in any wave.
 * - Plain JSON; times are epoch milliseconds.
 */
import type { RolloutPhase } from '../../proto/phases.ts'
import type { HostPhase } from '../host/state.ts'

/** The eight rollout states, defined once in proto (DB and wire strings are identical). */
export type { RolloutPhase }

// A record keyed by the type makes the compiler reject a missing or unknown state (core may only
// import types from proto, so it keeps its own value list).
const PHASES: Readonly<Record<RolloutPhase, true>> = {
  Opening: true,
  Active: true,
  Converging: true,
  Terminal: true,
  Reverted: true,
  Failed: true,
  Superseded: true,
  Pruned: true,
  Cancelled: true,
}

/** The rollout states in table order. */
export const ROLLOUT_PHASES = Object.keys(PHASES) as readonly RolloutPhase[]

/** Why and since when a rollout is halted. */
export type RolloutHalt = {
  readonly at: number
  /** The host whose failure halted the rollout. */
  readonly hostname: string
  readonly hostPhase: Extract<HostPhase, 'Failed' | 'Reverted'>
  /** What failed, as the CP saw it when the host failed (absent in records from before). */
  readonly failure?: HostFailure
}

/** Why a host failed: the enforce probe that failed (null for an activation) and the reason. */
export type HostFailure = { readonly probe: string | null; readonly reason: string }

/** The operator's resume of a halt, kept for the audit trail shown in the UI. */
export type RolloutResume = {
  readonly at: number
  readonly operator: string
  readonly reason: string
}

/** The operator's cancellation of an open rollout. */
export type RolloutCancel = {
  readonly at: number
  readonly operator: string
  readonly reason: string
}

/** The rollout record. */
export type RolloutRecord = {
  readonly rolloutId: string
  readonly channel: string
  /** The channel ref (CI commit) the rollout targets. */
  readonly targetRef: string
  readonly phase: RolloutPhase
  readonly currentWave: number
  readonly openedAt: number
  readonly terminalAt: number | null
  readonly supersededAt: number | null
  readonly halt: RolloutHalt | null
  readonly lastResume: RolloutResume | null
  readonly lastHalt: RolloutHalt | null
  readonly cancelled: RolloutCancel | null
  readonly supersededBy: string | null
}

/**
 * Whether a rollout is closed: nothing of it is dispatched again and it no longer holds back
 * channel-edge successors (Terminal, Superseded, Cancelled, or pruned from any). Failed and
 * Reverted rollouts stay open — halted or resumed — until they converge, a newer release
 * supersedes them or an operator cancels them.
 */
export function isClosed(phase: RolloutPhase): boolean {
  return (
    phase === 'Terminal' || phase === 'Superseded' || phase === 'Pruned' || phase === 'Cancelled'
  )
}
