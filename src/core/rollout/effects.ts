/**
 * The closed vocabulary of rollout effects (spec §2.3) plus the halt/resume records of
 * DECISIONS §3.4. The CP applier switches over every variant.
 * Invariant: `RecordRolloutTransition` is emitted exactly when the phase changes, with
 * `from`/`to` equal to the phases before and after the step.
 */
import type { RolloutPhase } from './state.ts'

/** The rollout effects. */
export type RolloutEffect =
  | {
      readonly type: 'RecordRolloutTransition'
      readonly rolloutId: string
      readonly from: RolloutPhase
      readonly to: RolloutPhase
      readonly at: number
    }
  | { readonly type: 'UpdateCurrentWave'; readonly rolloutId: string; readonly wave: number }
  | {
      readonly type: 'RecordRolloutHalted'
      readonly rolloutId: string
      readonly hostname: string
      readonly at: number
    }
  | {
      readonly type: 'RecordRolloutResumed'
      readonly rolloutId: string
      readonly operator: string
      readonly reason: string
      readonly at: number
    }
