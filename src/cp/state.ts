/**
 * The control plane's in-memory state, owned by the single mutator (`CpMutator`): the adopted
 * release, the live host records and rollouts the planner reads, and the indexes request
 * handlers read (dispatch queue, revocations, quarantines, nonces, heartbeats).
 *
 * Invariants:
 * - Only the mutator's handlers (`mutator/`) and `applier.ts` (called by them) mutate this; handlers read it
 *   synchronously, so they always see a state that some committed transaction produced.
 * - Everything here is rebuilt from the database at start (`CpState.load`), except what is
 *   inherently per-process: heartbeats since start, enrolment refusals, gate-decision debounce,
 *   delivery times and verification status (recomputed at the first poll).
 * - `hosts` holds every record of a rollout that is not closed, plus records still in flight
 *   (Activating, Deferred, Soaking) in closed rollouts; every other record is in `retired`, so the
 *   mutator's handlers never need the database to find a record.
 * - `nextSeq` is the seq the next event-log row gets (rows are numbered here, not by the DB).
 */
import type {
  DisruptionBudget,
  FleetState,
  HostRolloutState,
  ManifestSet,
  QuarantineSet,
  RolloutRecord,
  SignedStamp,
} from '../core/index.ts'
import { isClosed, isSettled, isUnderway } from '../core/index.ts'
import { channelFreshnessWindowSecs } from '../core/release/freshness.ts'
import type {
  DenialKind,
  KnownHost,
  QueuedDispatch,
  Store,
  StoredDenial,
  StoredHost,
  StoredRevocation,
  StoredSkip,
  UsedNonce,
} from '../db/store.ts'
import type { BootstrapNonceEntry } from '../proto/bootstrap.ts'
import type { RolloutManifest } from '../proto/manifest.ts'
import { ClosureBook } from './closures.ts'
import { loadDurable, takeDurable as takeDurableParts, type LoadReuse } from './state-load.ts'

export type {
  AdoptedArtifact,
  AdoptedManifest,
  AdoptedRelease,
  ArtifactStatus,
  LiveRollout,
  HeartbeatSeen,
  GateBlockSeen,
} from './state-types.ts'
import type {
  AdoptedArtifact,
  AdoptedManifest,
  AdoptedRelease,
  ArtifactStatus,
  LiveRollout,
  HeartbeatSeen,
  GateBlockSeen,
} from './state-types.ts'

/** The key of a (rollout, host) pair in the flat maps. */
export function pairKey(rolloutId: string, host: string): string {
  return `${rolloutId}\u0000${host}`
}

/** The CP state. */
export class CpState {
  release: AdoptedRelease | undefined
  /** The global freshness window (seconds) capping every channel's; main sets the flag's. */
  freshnessWindowSecs = 2_592_000
  revocationsAdopted: AdoptedArtifact<unknown> | undefined
  noncesAdopted: AdoptedArtifact<unknown> | undefined
  /** The signed enrollment allow-list, by nonce. */
  nonces = new Map<string, BootstrapNonceEntry>()
  readonly rollouts = new Map<string, LiveRollout>()
  /** The live host records by rollout, then host (the planner's `FleetState.hosts`). */
  readonly hosts: Record<string, Record<string, HostRolloutState>> = {}
  readonly waveIndex = new Map<string, number>()
  /**
   * The records not in `hosts` (settled or Pending or Failed, in a closed rollout), by rollout
   * then host: a late event or a heartbeat may still name them. Pending and Failed ones are kept
   * whole (a late dispatch ack, a completed rollback still steps them); settled ones (Converged,
   * Reverted) refuse every event, so only their seq, phase and closures are read and their probes
   * are not kept.
   */
  readonly retired: Record<string, Record<string, StoredHost>> = {}
  /** The seq of the next event-log row. */
  nextSeq = 1
  /** The used bootstrap nonces (`token_replay`), by nonce. */
  readonly usedNonces = new Map<string, UsedNonce>()
  /** The rollouts each host has a live record in. */
  readonly byHost = new Map<string, Set<string>>()
  readonly quarantines = new Map<string, Map<string, number>>()
  /** The binary cache the CP checks target closures in, and what it found (per process). */
  readonly closures = new ClosureBook()
  readonly revocations = new Map<string, StoredRevocation>()
  /** The queued dispatches by host, then rollout. */
  readonly dispatch = new Map<string, Map<string, QueuedDispatch>>()
  readonly delivered = new Map<string, number>()
  readonly gateBlocks = new Map<string, GateBlockSeen>()
  /** The planner's latest verdict per pair: 'queue' or the blocking gate. */
  readonly decisions = new Map<string, string>()
  readonly heartbeats = new Map<string, HeartbeatSeen>()
  /** The durable record of every host the CP has heard from (`host_records`), by hostname. */
  readonly knownHosts = new Map<string, KnownHost>()
  /**
   * The latest enrolment refusal per hostname, with the CP's reason, oldest first; bounded
   * (`mutator/known-hosts.ts`) and per process, like heartbeats.
   */
  readonly enrolmentRefusals = new Map<string, { readonly at: number; readonly reason: string }>()
  /** Distinct failing enforce controls per rollout and host (compliance-wave gate). */
  readonly probeFailures: Record<string, Record<string, number>> = {}
  readonly probeFailureKeys = new Set<string>()
  /**
   * When each live host's soak ends on the CP's clock, by rollout then host: set when the CP
   * first sees the record Soaking or Converged (the wave's soak from then), never from an agent's
   * times. Memory only: after a restart a Soaking host soaks again from its next step, and a
   * Converged one counts as soaked.
   */
  readonly soakEndsAt: Record<string, Record<string, number>> = {}
  /** The hosts operators skipped, by rollout then host (done for promotion, never dispatched). */
  readonly skipped: Record<string, Record<string, StoredSkip>> = {}
  /**
   * The operator's emergency denials by `kind:name` (a host, or an operator CN): requests from
   * those certificates are refused until allowed again. Read by the identity gate and the host
   * view.
   */
  readonly denials = new Map<string, StoredDenial>()
  readonly status = new Map<string, ArtifactStatus>()
  readonly marks = new Map<
    string,
    { signedAtMs: number; ciCommit: string | null; sha256: string }
  >()
  lastPlanAt: number | null = null

  /** Rebuilds the durable parts from the database, but what `reuse` keeps (`state-load.ts`). */
  async load(store: Store, reuse?: LoadReuse): Promise<void> {
    await loadDurable(this, store, reuse)
  }

  /**
   * Takes the durable parts of `next` (a state just loaded from the database) in place, keeping
   * what this process measured itself (`state-load.ts`): a follower replica refreshes the object
   * its HTTP handlers and gauges hold, instead of handing them a new one.
   */
  takeDurable(next: CpState): void {
    takeDurableParts(this, next)
  }

  /**
   * Whether the CP may answer `/v1/*`: a release is adopted and, for each signed list the
   * release source serves, that list is adopted too.
   */
  isReady(needs: { readonly revocations: boolean; readonly nonces: boolean }): boolean {
    return (
      this.release !== undefined &&
      (!needs.revocations || this.revocationsAdopted !== undefined) &&
      (!needs.nonces || this.noncesAdopted !== undefined)
    )
  }

  /** A live record, if kept in memory. */
  host(rolloutId: string, host: string): HostRolloutState | undefined {
    return this.hosts[rolloutId]?.[host]
  }

  /** A record in memory, live or retired, with its wave index. */
  record(rolloutId: string, host: string): StoredHost | undefined {
    const live = this.host(rolloutId, host)
    if (live === undefined) return this.retired[rolloutId]?.[host]
    return { state: live, waveIndex: this.waveIndex.get(pairKey(rolloutId, host)) ?? 0 }
  }

  /** Stores a record in memory (and in the host index). */
  putHost(state: HostRolloutState, waveIndex: number): void {
    this.unretire(state.rolloutId, state.hostname)
    ;(this.hosts[state.rolloutId] ??= {})[state.hostname] = state
    this.waveIndex.set(pairKey(state.rolloutId, state.hostname), waveIndex)
    let set = this.byHost.get(state.hostname)
    if (set === undefined) this.byHost.set(state.hostname, (set = new Set()))
    set.add(state.rolloutId)
  }

  /** Moves a record out of `hosts` into `retired` (it stays in the database). */
  retireHost(state: HostRolloutState, waveIndex: number): void {
    this.dropHost(state.rolloutId, state.hostname)
    this.retire(state, waveIndex)
  }

  /** Forgets every record of a rollout (its rows were deleted). */
  forgetRollout(rolloutId: string): void {
    for (const host of Object.keys(this.hosts[rolloutId] ?? {})) this.dropHost(rolloutId, host)
    delete this.retired[rolloutId]
  }

  /** Keeps a record in `retired`, settled ones without their probes (also when loading). */
  retire(state: HostRolloutState, waveIndex: number): void {
    const kept = isSettled(state.phase) ? { ...state, probes: {}, probeTopology: null } : state
    ;(this.retired[state.rolloutId] ??= {})[state.hostname] = { state: kept, waveIndex }
  }

  private unretire(rolloutId: string, host: string): void {
    const m = this.retired[rolloutId]
    if (m === undefined || !(host in m)) return
    delete m[host]
    if (isEmpty(m)) delete this.retired[rolloutId]
  }

  /** Drops a live record from memory (it stays in the database). */
  private dropHost(rolloutId: string, host: string): void {
    const records = this.hosts[rolloutId]
    if (records !== undefined) {
      delete records[host]
      if (isEmpty(records)) delete this.hosts[rolloutId]
    }
    this.waveIndex.delete(pairKey(rolloutId, host))
    const set = this.byHost.get(host)
    set?.delete(rolloutId)
    if (set?.size === 0) this.byHost.delete(host)
    this.decisions.delete(pairKey(rolloutId, host))
    this.gateBlocks.delete(pairKey(rolloutId, host))
    const ends = this.soakEndsAt[rolloutId]
    if (ends !== undefined) {
      delete ends[host]
      if (isEmpty(ends)) delete this.soakEndsAt[rolloutId]
    }
  }

  /** Starts a host's soak on the CP's clock, once: later steps do not move it. */
  startSoak(rolloutId: string, host: string, endsAt: number): void {
    const ends = (this.soakEndsAt[rolloutId] ??= {})
    ends[host] ??= endsAt
  }

  /** Retires the records of a closed rollout that are no longer in flight. */
  evictSettled(rolloutId: string): void {
    const rollout = this.rollouts.get(rolloutId)
    if (rollout === undefined || !isClosed(rollout.record.phase)) return
    for (const [host, state] of Object.entries(this.hosts[rolloutId] ?? {})) {
      if (!isUnderway(state.phase))
        this.retireHost(state, this.waveIndex.get(pairKey(rolloutId, host)) ?? 0)
    }
  }

  /** Records a skip in memory. */
  putSkip(s: StoredSkip): void {
    ;(this.skipped[s.rolloutId] ??= {})[s.hostname] = s
  }

  /** The skip of a host in a rollout, if an operator skipped it. */
  skipOf(rolloutId: string, host: string): StoredSkip | undefined {
    return this.skipped[rolloutId]?.[host]
  }

  /** Forgets a skip (the host is retried). */
  dropSkip(rolloutId: string, host: string): void {
    const m = this.skipped[rolloutId]
    if (m === undefined) return
    delete m[host]
    if (isEmpty(m)) delete this.skipped[rolloutId]
  }

  /** The denial of a host or an operator CN, if any. */
  denial(kind: DenialKind, name: string): StoredDenial | undefined {
    return this.denials.get(denialKey(kind, name))
  }

  /** Counts a distinct failing control (or probe) of a host in a rollout, once; whether new. */
  addProbeFailure(rolloutId: string, host: string, item: string): boolean {
    const key = `${rolloutId}\u0000${host}\u0000${item}`
    if (this.probeFailureKeys.has(key)) return false
    this.probeFailureKeys.add(key)
    const byHost = (this.probeFailures[rolloutId] ??= {})
    byHost[host] = (byHost[host] ?? 0) + 1
    return true
  }

  /** Forgets a host's failing controls in a rollout (the host is retried from scratch). */
  clearProbeFailures(rolloutId: string, host: string): void {
    const byHost = this.probeFailures[rolloutId]
    if (byHost === undefined) return
    delete byHost[host]
    if (isEmpty(byHost)) delete this.probeFailures[rolloutId]
    const prefix = `${rolloutId}\u0000${host}\u0000`
    for (const key of [...this.probeFailureKeys])
      if (key.startsWith(prefix)) this.probeFailureKeys.delete(key)
  }

  /** Records a quarantine in memory. */
  addQuarantine(channel: string, closure: string, at: number): void {
    let m = this.quarantines.get(channel)
    if (m === undefined) this.quarantines.set(channel, (m = new Map()))
    if (!m.has(closure)) m.set(closure, at)
  }

  /** The planner's quarantine set. */
  quarantineSet(): QuarantineSet {
    const out: Record<string, string[]> = {}
    for (const [channel, closures] of this.quarantines) out[channel] = [...closures.keys()]
    return out
  }

  /** Stores a queued dispatch in memory. */
  putDispatch(d: QueuedDispatch): void {
    let m = this.dispatch.get(d.hostname)
    if (m === undefined) this.dispatch.set(d.hostname, (m = new Map()))
    m.set(d.rolloutId, d)
  }

  /** The oldest queued dispatch of a host, if any (read by the long-poll handler). */
  nextDispatch(host: string): QueuedDispatch | undefined {
    const m = this.dispatch.get(host)
    if (m === undefined) return undefined
    let best: QueuedDispatch | undefined
    for (const d of m.values()) if (best === undefined || d.enqueuedAt < best.enqueuedAt) best = d
    return best
  }

  /** Forgets a queued dispatch. */
  dropDispatch(host: string, rolloutId: string): void {
    const m = this.dispatch.get(host)
    m?.delete(rolloutId)
    if (m?.size === 0) this.dispatch.delete(host)
  }

  /** The number of queued dispatches. */
  dispatchDepth(): number {
    let n = 0
    for (const m of this.dispatch.values()) n += m.size
    return n
  }

  /** The planner's view of the adopted manifests, if a release is adopted. */
  manifestSet(): ManifestSet | undefined {
    const release = this.release
    if (release === undefined) return undefined
    const rollouts: Record<string, RolloutManifest> = {}
    for (const [channel, m] of Object.entries(release.manifests)) rollouts[channel] = m.value
    return { fleet: release.fleet.value, rollouts, signed: this.signedStamps() }
  }

  /** Each adopted manifest's signing time and its channel's effective freshness window. */
  signedStamps(): Record<string, SignedStamp> {
    const release = this.release
    const out: Record<string, SignedStamp> = {}
    if (release === undefined) return out
    const channels = release.fleet.value.channels
    for (const [channel, m] of Object.entries(release.manifests)) {
      const c = Object.hasOwn(channels, channel) ? channels[channel as never] : undefined
      out[channel] = {
        signedAtMs: m.signedAtMs,
        windowSecs: channelFreshnessWindowSecs(c, this.freshnessWindowSecs),
        signingIntervalMinutes: c?.signingIntervalMinutes,
      }
    }
    return out
  }

  /** The planner's fleet state, built from the live maps (no copies of host records). */
  fleetState(): FleetState {
    const rollouts: Record<string, RolloutRecord> = {}
    const budgets: Record<string, readonly DisruptionBudget[]> = {}
    for (const [id, r] of this.rollouts) {
      rollouts[id] = r.record
      budgets[id] = r.budgets
    }
    return {
      rollouts,
      hosts: this.hosts,
      budgets,
      outstandingEnforceFailures: this.probeFailures,
      soakEndsAt: this.soakEndsAt,
      skipped: this.skipped,
    }
  }
}

/** The key of a denial in `CpState.denials`. */
export function denialKey(kind: DenialKind, name: string): string {
  return `${kind}:${name}`
}

// O(1), unlike Object.keys(o).length: evicting a 10k-host rollout calls this per host.
function isEmpty(o: object): boolean {
  for (const _ in o) return false
  return true
}
