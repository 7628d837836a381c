/**
 * The closed vocabulary of host effects (spec §1.4): descriptions of work for the shell, never
 * executions. Agent-only `Local*`, CP-only `Remote*`, and shared variants.
 *
 * Invariants (do not change without a design update):
 * - Each side's applier switches over every variant and ends in `assertNever`; a variant meant
 *   for the other side is logged and dropped there, never executed.
 * - Every variant is emitted by some transition (dispatch queueing and rollout records belong to
 *   the planner, metrics to the shell), so the appliers hold no dead branches.
 */
import type { OutboundAgentEvent } from './events.ts'
import type { HostPhase } from './state.ts'

/** The log levels of `EmitLog`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** The host effects. */
export type HostEffect =
  // Agent-only.
  | { readonly type: 'LocalFireSwitch'; readonly rolloutId: string; readonly target: string }
  | { readonly type: 'LocalFireRollbackTo'; readonly rolloutId: string; readonly closure: string }
  | { readonly type: 'LocalResetProbeCache'; readonly rolloutId: string }
  | {
      readonly type: 'LocalEmitEvent'
      readonly rolloutId: string
      readonly payload: OutboundAgentEvent
      /** Whether the event must be fsynced to the outbound queue before it is posted. */
      readonly durable: boolean
    }
  // CP-only.
  | { readonly type: 'RemoteInsertQuarantine'; readonly channel: string; readonly closure: string }
  | {
      readonly type: 'RemoteAppendEventLog'
      readonly hostname: string
      readonly rolloutId: string
      readonly payload: OutboundAgentEvent
    }
  // Shared.
  | {
      readonly type: 'RecordTransition'
      readonly hostname: string
      readonly rolloutId: string
      readonly from: HostPhase
      readonly to: HostPhase
      readonly at: number
    }
  | {
      readonly type: 'EmitLog'
      readonly level: LogLevel
      readonly target: string
      readonly message: string
      readonly fields: Readonly<Record<string, string | number | boolean | null>>
    }

/** The effect type tags. */
export type HostEffectType = HostEffect['type']
