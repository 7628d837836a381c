/**
 * The inputs of the agent's mutator and their queue envelope. Every input kind has its own
 * reply type and the reply travels on the envelope, so each handler returns its kind's reply
 * and the loop hands it back without casts.
 *
 * Invariant: inputs carry facts gathered by workers (a verified dispatch, a switch outcome, a
 * probe result, CP snapshots), never record state: only the mutator reads and changes records.
 */
import type { Unsequenced } from '../../core/index.ts'
import type { HostRolloutSnapshot } from '../../proto/agent.ts'
import type { AcceptedDispatch } from '../manifests/admission.ts'

/** The fields of each input kind. */
export type AgentInputFields = {
  /** A dispatch the host's signed manifest allows. */
  readonly Dispatch: {
    readonly accepted: AcceptedDispatch
    readonly receivedAt: number
    /** The closure the current-system link named when the dispatch was accepted. */
    readonly prior: string | undefined
  }
  /** A fact a worker observed (switch outcome, probe result); the mutator numbers it. */
  readonly Local: { readonly rolloutId: string; readonly event: Unsequenced }
  /** The advance tick: soak and sustained failure of the active record, housekeeping. */
  readonly Tick: Record<never, never>
  /** The CP's snapshots of this host's records (boot handshake, heartbeats without a record). */
  readonly Bootstrap: {
    readonly snapshots: readonly HostRolloutSnapshot[]
    readonly currentClosure: string | undefined
  }
  /** The CP asks for the delivered events of a rollout above `after` again. */
  readonly ReplayFrom: { readonly rolloutId: string; readonly after: number }
  /** A rollback did not complete; the host stays Failed. */
  readonly RollbackFailed: { readonly rolloutId: string; readonly reason: string }
}

/** The reply of each input kind. */
export type AgentReplies = {
  readonly Dispatch: 'accepted' | 'duplicate'
  /** Whether the state machine took the event (false: unknown rollout, or refused). */
  readonly Local: boolean
  readonly Tick: void
  /** How many snapshots were adopted. */
  readonly Bootstrap: number
  /** How many delivered events went back to the outbox. */
  readonly ReplayFrom: number
  readonly RollbackFailed: void
}

/** The input kinds. */
export type AgentInputKind = keyof AgentInputFields

/** An input of kind `K` (by default: any input). */
export type AgentInput<K extends AgentInputKind = AgentInputKind> = {
  [P in K]: { readonly type: P } & AgentInputFields[P]
}[K]

/** The reply to an input of kind `K`. */
export type ReplyOf<K extends AgentInputKind> = AgentReplies[K]

/** An input of kind `K` with the callback its reply goes to. */
export type Envelope<K extends AgentInputKind> = {
  readonly input: AgentInput<K>
  readonly reply: (reply: ReplyOf<K>) => void
}
