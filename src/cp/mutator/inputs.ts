/**
 * The control plane mutator's inputs and the reply each kind promises. Workers and HTTP
 * handlers build an input and hand it to `CpMutator.submit` (fire and forget) or `request`
 * (await the reply); both are typed by the input's `type`, so the reply a caller receives and
 * the reply a handler returns are the same type without casts.
 * Invariant: every kind has exactly one entry in `Payloads` and one in `Replies` (a kind without
 * an answer replies `void`, which still tells the caller it was applied and committed).
 */
import type { OutboundAgentEvent } from '../../core/index.ts'
import type { DenialKind, KnownHost, QueuedDispatch } from '../../db/store.ts'
import type { HeartbeatRequest, HostRolloutSnapshot } from '../../proto/agent.ts'
import type { BootstrapNonces } from '../../proto/bootstrap.ts'
import type { FleetResolved } from '../../proto/fleet.ts'
import type { RolloutManifest } from '../../proto/manifest.ts'
import type { Revocations } from '../../proto/revocations.ts'
import type { CacheCheck } from '../../runtime/binary-cache.ts'
import type { AdoptedArtifact } from '../state.ts'
import type { MutatorContext } from './context.ts'

/** The verification outcome of one signed artifact (workers verify; the mutator adopts). */
export type ArtifactOutcome<T> =
  | { readonly ok: true; readonly artifact: AdoptedArtifact<T> }
  | { readonly ok: false; readonly kind: string; readonly message: string }

/** What one poll of the release source found. */
export type ReleaseOutcome = {
  readonly source: string
  readonly fleet: ArtifactOutcome<FleetResolved>
  /** By channel, for every channel whose rollout id the fleet implies (fleet verified only). */
  readonly manifests: Readonly<
    Record<string, { readonly rolloutId: string } & ArtifactOutcome<RolloutManifest>>
  >
}

/** The signed lists besides the release. */
export type ListKind = 'revocations' | 'bootstrap-nonces'

/** The answer to an agent event. */
export type EventReply = { readonly status: 204 } | { readonly status: 409; readonly error: string }

/** The answer to a heartbeat. */
export type HeartbeatReply = {
  readonly replayFrom: number | null
  readonly replayFromByRollout: Readonly<Record<string, number>>
  readonly bootstrap: HostRolloutSnapshot[] | null
}

/** One heartbeat of a `HeartbeatBatch`: the agent's request and its client certificate. */
export type HeartbeatBatchItem = {
  readonly request: HeartbeatRequest
  readonly cert?: KnownHost['cert'] | undefined
}

/** An operator action. */
export type OperatorOp =
  | { readonly kind: 'resume'; readonly rolloutId: string; readonly reason: string }
  | { readonly kind: 'cancel'; readonly rolloutId: string; readonly reason: string }
  | {
      readonly kind: 'retry' | 'skip'
      readonly hostname: string
      /** The rollout; the host's channel's current rollout when absent. */
      readonly rolloutId: string | undefined
      readonly reason: string
    }
  | {
      readonly kind: 'deny' | 'allow'
      readonly target: DenialKind
      readonly name: string
      readonly reason: string
    }
  | {
      readonly kind: 'clear-quarantine'
      readonly channel: string
      readonly closure: string
      readonly reason: string
    }

/** The answer to an operator action. */
export type OperatorReply =
  | { readonly ok: true; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly status: 404 | 409; readonly error: string }

/** What one retention pass removed. */
export type PruneReply = { readonly nonces: number; readonly rollouts: number }

/** The fields of each input kind (besides `type`). */
type Payloads = {
  /** An agent event for one (rollout, host) record. */
  HostEvent: {
    readonly host: string
    readonly rolloutId: string
    readonly event: OutboundAgentEvent
  }
  /**
   * An agent heartbeat (the CP may synthesize events from it), with the client certificate it
   * came with when the transport knows it.
   */
  Heartbeat: {
    readonly request: HeartbeatRequest
    readonly cert?: KnownHost['cert'] | undefined
  }
  /**
   * Heartbeats a follower replica answered itself because they carried no news (docs/control-plane.md,
   * replicas), sent to the leader together, each as it would have come alone.
   */
  HeartbeatBatch: { readonly items: readonly HeartbeatBatchItem[] }
  /** A poll of the release source: the fleet and its manifests, verified or refused. */
  ReleaseVerified: { readonly outcome: ReleaseOutcome }
  /** A poll of one signed list, verified or refused. */
  ListVerified: {
    readonly kind: ListKind
    readonly source: string
    readonly outcome: ArtifactOutcome<Revocations | BootstrapNonces>
  }
  /** Plan now (cadence, debounced state change, or a test settling the loop). */
  PlanTick: {}
  /** Take a host's oldest queued dispatch for delivery. */
  TakeDispatch: { readonly host: string }
  /** Record a bootstrap nonce as used; the reply says whether it was fresh. */
  /** `expiresAt`: the token's expiry, until which the nonce is remembered. */
  UseNonce: { readonly nonce: string; readonly hostname: string; readonly expiresAt: number }
  /** An operator action, recorded with the operator's CN. */
  Operator: { readonly op: OperatorOp; readonly operator: string }
  /** Retention: forget old nonces, prune finished rollouts. */
  Prune: {}
  /** The enrolment route's outcome for a hostname: issued (`refusal` null) or refused, why. */
  Enrolment: { readonly hostname: string; readonly refusal: string | null }
  /** What the availability worker found of one target closure in the binary cache, and when. */
  ClosureChecked: { readonly closure: string; readonly check: CacheCheck; readonly at: number }
}

/** The reply of each input kind. */
type Replies = {
  HostEvent: EventReply
  Heartbeat: HeartbeatReply
  HeartbeatBatch: void
  ReleaseVerified: void
  ListVerified: void
  PlanTick: void
  TakeDispatch: QueuedDispatch | undefined
  UseNonce: boolean
  Operator: OperatorReply
  Prune: PruneReply
  Enrolment: void
  ClosureChecked: void
}

/** The input kinds. */
export type InputKind = keyof Payloads

/** The input of one kind. */
export type InputOf<K extends InputKind> = { readonly type: K } & Payloads[K]

/** Any input. */
export type CpInput = { [K in InputKind]: InputOf<K> }[InputKind]

/** The reply an input of kind `K` gets. */
export type ReplyOf<K extends InputKind> = Replies[K]

/**
 * An input waiting in the queue, with its reply. Handler and reply are bound to each other when
 * the input is queued, while its kind is still known statically, so the loop runs any envelope
 * without per-kind code and no reply is ever cast.
 */
export type Envelope = {
  readonly type: InputKind
  /** Monotonic time it was queued (queue-wait metric). */
  readonly queuedAt: number
  /** Applies the input inside the batch's transaction; returns its reply's delivery, for after the commit. */
  readonly apply: (ctx: MutatorContext) => (() => void) | undefined
  /** Ends the requester's wait when the input will never be applied (the mutator stopped). */
  readonly abandon: (() => void) | undefined
}
