/**
 * The planner's public vocabulary: the fleet state it reads, the actions it returns and the
 * gate outcomes operators see.
 *
 * Invariants:
 * - Inputs are plain JSON the CP builds each tick from the DB and the verified artifacts; the
 *   full `HostRolloutState` / `RolloutRecord` values are assignable to the views below.
 * - `DeferDispatch.reason` is written for an operator (CLI and UI show it verbatim); `gate` is a
 *   stable machine name (the reference's discriminators plus `halted`).
 */
import type { HostRolloutState } from '../host/state.ts'
import type { RolloutRecord } from '../rollout/state.ts'
import type { DisruptionBudget } from '../types.ts'

/** The host-record fields the planner reads. */
export type HostRecordView = Pick<
  HostRolloutState,
  'hostname' | 'phase' | 'targetClosure' | 'dispatchAckedAt'
>

/** The rollout-record fields the planner reads. */
export type RolloutView = Pick<
  RolloutRecord,
  'rolloutId' | 'channel' | 'phase' | 'currentWave' | 'halt'
>

/** The fleet's runtime state as the CP knows it at the start of a tick. */
export type FleetState = {
  /**
   * The known rollouts by id: at least the rollout of each current manifest once opened, plus
   * any older rollout that still has hosts Activating or Soaking (they count against budgets).
   */
  readonly rollouts: Readonly<Record<string, RolloutView>>
  /** The host records by rollout id, then hostname. */
  readonly hosts: Readonly<Record<string, Readonly<Record<string, HostRecordView>>>>
  /**
   * The budgets frozen into rollouts that no longer have a current manifest, by rollout id.
   * Rollouts of current manifests use their manifest's `disruptionBudgets`.
   */
  readonly budgets?: Readonly<Record<string, readonly DisruptionBudget[]>> | undefined
  /**
   * The outstanding failing enforce-probe results per rollout and host (compliance-wave gate);
   * absent means none.
   */
  readonly outstandingEnforceFailures?:
    Readonly<Record<string, Readonly<Record<string, number>>>> | undefined
  /**
   * When each host's soak ends on the control plane's clock (when the CP saw its activation
   * complete, plus the wave's soak), per rollout and host. A Converged host counts as done only
   * once that time has passed: agent-reported times are recorded, never trusted for gating.
   * Absent means no CP-side soak is known and the phase alone counts.
   */
  readonly soakEndsAt?: Readonly<Record<string, Readonly<Record<string, number>>>> | undefined
  /**
   * The hosts an operator skipped, per rollout and host: done for wave promotion whatever their
   * phase, and never dispatched again in that rollout. Absent means none.
   */
  readonly skipped?: Readonly<Record<string, Readonly<Record<string, unknown>>>> | undefined
  /**
   * The few words naming what holds each host back (`refused: Stale`, `offline 3m10s`), by
   * hostname, from core's `hostProblem`; gate sentences name them beside the host. Absent
   * means no host has a problem.
   */
  readonly hostProblems?: Readonly<Record<string, string>> | undefined
  /**
   * What the control plane found in the binary cache hosts fetch closures from, when it checks
   * (`closure-availability` gate); absent means it does not check and no host is held for it.
   */
  readonly closures?: ClosureAvailability | undefined
}

/** A target closure's narinfo as the CP last found it: there, not there, or not answered. */
export type ClosureStatus = 'present' | 'missing' | 'error'

/** The cache the CP checks and what it found, by closure basename (absent: not checked yet). */
export type ClosureAvailability = {
  readonly cache: string
  readonly status: Readonly<Record<string, ClosureStatus>>
}

/** The gate names, in evaluation order (first block wins). */
export type GateName =
  | 'halted'
  | 'freshness'
  | 'quarantine'
  | 'channel-edges'
  | 'wave-promotion'
  | 'wave-promotion-host-unstaged'
  | 'host-edge'
  | 'disruption-budget'
  | 'compliance-wave'
  | 'closure-availability'

/** A gate's refusal to dispatch a host now, with the reason an operator reads. */
export type GateBlock = { readonly gate: GateName; readonly reason: string }

/** The actions one planning pass asks the CP to apply, in order. */
export type PlanAction =
  | {
      /** Open the rollout of a channel whose ref moved (supersedes the channel's older ones). */
      readonly type: 'OpenRollout'
      readonly rolloutId: string
      readonly channel: string
      readonly targetRef: string
    }
  | {
      /** Advance the wave cursor (the CP steps the rollout with `WaveAdvanced`). */
      readonly type: 'AdvanceWave'
      readonly rolloutId: string
      readonly fromWave: number
      readonly toWave: number
    }
  | {
      readonly type: 'QueueDispatch'
      readonly rolloutId: string
      readonly hostname: string
      readonly channel: string
      readonly targetClosure: string
      /** The manifest's wave index (the host's soak comes from it). */
      readonly waveIndex: number
    }
  | {
      readonly type: 'DeferDispatch'
      readonly rolloutId: string
      readonly hostname: string
      readonly gate: GateName
      readonly reason: string
    }
