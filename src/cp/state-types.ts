/**
 * The shapes the control plane's in-memory state is made of (`state.ts` owns the state itself):
 * the adopted signed artifacts, their adoption status, live rollouts, the latest heartbeat of a
 * host and the gate holding it.
 */
import type { DisruptionBudget, RolloutRecord } from '../core/index.ts'
import type { FrozenPolicy } from '../db/store.ts'
import type { HeartbeatRequest } from '../proto/agent.ts'
import type { FleetResolved } from '../proto/fleet.ts'
import type { RolloutManifest } from '../proto/manifest.ts'

/** A signed artifact the CP adopted: its exact bytes, signature and what verification proved. */
export type AdoptedArtifact<T> = {
  readonly bytes: Uint8Array
  readonly signature: Uint8Array
  readonly sha256: string
  readonly signedAt: string
  readonly signedAtMs: number
  readonly ciCommit: string | null
  readonly value: T
}

/** The adopted rollout manifest of a channel. */
export type AdoptedManifest = AdoptedArtifact<RolloutManifest> & { readonly rolloutId: string }

/** The adopted release: the fleet and one manifest per channel that passed every check. */
export type AdoptedRelease = {
  readonly fleet: AdoptedArtifact<FleetResolved>
  /** By channel. */
  readonly manifests: Readonly<Record<string, AdoptedManifest>>
  readonly adoptedAt: number
}

/** Why an artifact is (or is not) adopted, for `/v1/operator/status` and `/v1/channels`. */
export type ArtifactStatus = {
  readonly key: string
  readonly adopted: {
    readonly sha256: string
    readonly signedAt: string
    readonly at: number
  } | null
  readonly lastCheckedAt: number | null
  readonly lastError: {
    readonly kind: string
    readonly message: string
    readonly at: number
  } | null
}

/** A rollout as the mutator keeps it. */
export type LiveRollout = {
  record: RolloutRecord
  readonly policy: FrozenPolicy
  readonly budgets: readonly DisruptionBudget[]
}

/** The latest heartbeat of a host since this process started. */
export type HeartbeatSeen = {
  readonly at: number
  readonly receivedAt: number
  readonly closure: string | null
  /** The agent's own last event seq per rollout (`last_event_seq_by_rollout`), if it sent them. */
  readonly seqs: Readonly<Record<string, number>>
  /** The host's own problem it reported (`local_problem`: a full state directory), if any. */
  readonly problem?: HeartbeatRequest['local_problem']
  /** The last dispatch or manifest the agent refused (`last_refusal`), if it reported one. */
  readonly refusal?: {
    readonly rolloutId: string | null
    readonly kind: string
    readonly message: string
    readonly at: number
  }
  /** When the agent re-anchored its anti-rollback marks (`reanchored_at`), if it did. */
  readonly reanchoredAt?: number
  /** The closure the agent realised ahead of its dispatch (`prefetched_closure`). */
  readonly prefetched?: string
}

/** The current gate block of a host, for status and debouncing `gate_decision` rows. */
export type GateBlockSeen = {
  readonly gate: string
  readonly reason: string
  readonly since: number
}
