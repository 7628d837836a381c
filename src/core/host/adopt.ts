/**
 * Adopting the control plane's snapshot of a host record (spec runtime.md §6.7, the agent's
 * boot-recovery handshake): the CP may be ahead of the agent (it synthesized events from
 * heartbeats) or the agent may have lost its state directory. This decides whether a snapshot
 * is adopted and what the record becomes; the agent only applies the answer.
 *
 * Invariants:
 * - Besides `newPendingHost` and `step`, this is the only way a record changes, and it only
 *   ever moves a record forward: a snapshot is adopted only when its `lastEventSeq` is above
 *   the local record's, for this host, and for the same target.
 * - Without a local record a snapshot is adopted only for a rollout the host still has work in
 *   (not Pending, not settled) and only for the target this host's own signed manifest names:
 *   the CP's word alone never makes a host switch.
 * - Only the canonical fields come from the snapshot; the agent-local ones (probe records,
 *   failure and rollback times) are kept, except that probe state is cleared when the phase
 *   changed (the probes restart). A rollback target the host did not record itself is marked
 *   `priorFromCp` (the agent will not fetch such a closure).
 */
import { isSettled } from './phases.ts'
import { newPendingHost, type HostRolloutState } from './state.ts'

/** The canonical fields of a record as the CP reports them (times in epoch ms, absent ⇒ null). */
export type HostSnapshot = Pick<
  HostRolloutState,
  | 'rolloutId'
  | 'hostname'
  | 'channel'
  | 'phase'
  | 'targetClosure'
  | 'currentClosureAtDispatch'
  | 'currentClosure'
  | 'dispatchedAt'
  | 'dispatchAckedAt'
  | 'activationStartedAt'
  | 'activationCompletedAt'
  | 'soakDueAt'
  | 'lastEventSeq'
>

/** Why a snapshot was not adopted. */
export type SnapshotRefusal =
  /** The snapshot is of another host. */
  | 'other-host'
  /** The local record is at or past the snapshot's seq. */
  | 'not-ahead'
  /** The local record has another target closure. */
  | 'target-differs'
  /** No local record, and the snapshot leaves nothing to do (Pending, Converged, Reverted). */
  | 'nothing-to-resume'
  /** No local record, and the snapshot's target is not the one this host's signed manifest names. */
  | 'not-signed-target'

/** The decision about one snapshot. */
export type SnapshotAdoption =
  | {
      readonly adopt: true
      readonly state: HostRolloutState
      /** Whether the record's rollback target now comes from the CP rather than this host. */
      readonly priorFromCp: boolean
    }
  | { readonly adopt: false; readonly reason: SnapshotRefusal }

/** What `adoptSnapshot` decides from. */
export type AdoptionFacts = {
  /** This host's name. */
  readonly hostname: string
  /** The local record of the snapshot's rollout, if any. */
  readonly local: HostRolloutState | undefined
  readonly snapshot: HostSnapshot
  /** The target this host's current signed manifest names for the rollout (read without a local record). */
  readonly signedTarget: string | undefined
}

/** Whether and how to adopt a CP snapshot. */
export function adoptSnapshot(facts: AdoptionFacts): SnapshotAdoption {
  const { local, snapshot: snap } = facts
  if (snap.hostname !== facts.hostname) return { adopt: false, reason: 'other-host' }
  if (local && local.lastEventSeq >= snap.lastEventSeq) return { adopt: false, reason: 'not-ahead' }
  if (local && local.targetClosure !== snap.targetClosure)
    return { adopt: false, reason: 'target-differs' }
  if (!local && (snap.phase === 'Pending' || isSettled(snap.phase)))
    return { adopt: false, reason: 'nothing-to-resume' }
  if (!local && facts.signedTarget !== snap.targetClosure)
    return { adopt: false, reason: 'not-signed-target' }
  const base =
    local ??
    newPendingHost({
      rolloutId: snap.rolloutId,
      hostname: snap.hostname,
      channel: snap.channel,
      targetClosure: snap.targetClosure,
      dispatchedAt: snap.dispatchedAt,
    })
  const phaseChanged = base.phase !== snap.phase
  const state: HostRolloutState = {
    ...base,
    phase: snap.phase,
    currentClosureAtDispatch: base.currentClosureAtDispatch ?? snap.currentClosureAtDispatch,
    currentClosure: snap.currentClosure ?? base.currentClosure,
    dispatchAckedAt: snap.dispatchAckedAt ?? base.dispatchAckedAt,
    activationStartedAt: snap.activationStartedAt ?? base.activationStartedAt,
    activationCompletedAt: snap.activationCompletedAt ?? base.activationCompletedAt,
    soakDueAt: snap.soakDueAt ?? base.soakDueAt,
    lastEventSeq: snap.lastEventSeq,
    ...(phaseChanged ? { probes: {}, probeTopology: null } : {}),
  }
  const priorFromCp =
    base.currentClosureAtDispatch === null && snap.currentClosureAtDispatch !== null
  return { adopt: true, state, priorFromCp }
}
