/**
 * The agent's single mutator (spec runtime.md §6.4–6.5, STYLE §7.3): one loop pulls inputs from
 * a bounded queue, calls the shared core `step`, persists the result and applies the effects.
 * Workers only push inputs; only this module changes host records.
 *
 * Invariants (do not change without updating docs/agent.md):
 * - Seq: every Local event gets `lastEventSeq + 1` here, the only place seqs are assigned.
 * - Persistence order per step: the emitted events are written to the outbox (fsync), then the
 *   record (fsync), then the other effects run. A crash between the first two leaves events
 *   above the record's seq; `reconcile` replays them through `step` at start, so a seq is never
 *   reused for a different event and no emitted event is lost.
 * - Effects: the agent applier handles every variant; Remote* variants are logged and dropped.
 * - Only the newest rollout of this host (by dispatch time) is active: it alone is probed and
 *   ticked; older unfinished records are superseded and forgotten once their events drained.
 * - Crash recovery per record (`recover`): Activating/Deferred with the link on the target ⇒
 *   ActivationCompleted; Activating otherwise ⇒ resume (wait for a running switch, re-fire once,
 *   then fail); Soaking ⇒ restart probes; Failed under rollback-and-halt without a completed
 *   rollback ⇒ resume the rollback (once more at most).
 */
import {
  adoptSnapshot,
  assertNever,
  describeHostStepError,
  newPendingHost,
  rehydrationEffects,
  sequenced,
  step,
  tickVerdict,
  type HostEffect,
  type HostEvent,
  type HostEventType,
  type HostSnapshot,
  type SnapshotRefusal,
  type OutboundAgentEvent,
  type OutboundKind,
  type Unsequenced,
} from '../core/index.ts'
import type { HostRolloutSnapshot } from '../proto/agent.ts'
import { parseRfc3339Ms } from '../proto/common.ts'
import { BoundedQueue } from '../runtime/queue.ts'
import type { Clock } from '../runtime/clock.ts'
import type { Logger } from '../runtime/log.ts'
import type { ActivationIntent } from './activation-worker.ts'
import { NEW_META, type HostStore, type StoredHost } from './host-store.ts'
import type { AcceptedDispatch } from './manifests.ts'
import { M, type Metrics } from './metrics.ts'
import type { Outbox } from './outbox.ts'

/** The inputs of the reducer loop. */
export type AgentInput =
  | {
      readonly type: 'Dispatch'
      readonly accepted: AcceptedDispatch
      readonly receivedAt: number
      /** The closure the current-system link named when the dispatch was accepted. */
      readonly prior: string | undefined
    }
  | { readonly type: 'Local'; readonly rolloutId: string; readonly event: Unsequenced }
  | { readonly type: 'Tick' }
  | {
      readonly type: 'Bootstrap'
      readonly snapshots: readonly HostRolloutSnapshot[]
      readonly currentClosure: string | undefined
    }
  | { readonly type: 'ReplayFrom'; readonly rolloutId: string; readonly after: number }
  | { readonly type: 'RollbackFailed'; readonly rolloutId: string; readonly reason: string }

// Sizing: ~8 producers (dispatch, heartbeat, tick, activation, one per probe) each with at most
// three inputs in flight per run; 256 absorbs a burst from 32 probes finishing at once while the
// reducer is fsyncing, and stays small enough that a wedged reducer shows up quickly.
export const REDUCER_INPUT_CAPACITY = 256
// Non-durable events (probe chatter) are dropped rather than queued once a rollout has this many
// undelivered events: an unreachable CP must not fill the disk at one file per probe run.
export const NONDURABLE_OUTBOX_LIMIT = 256
// Forward switches per rollout: the dispatch's own, plus one re-fire after an agent restart that
// interrupted it; a third restart in Activating is a failure (the switch keeps killing us).
export const MAX_ACTIVATION_ATTEMPTS = 2
// Rollbacks per rollout: the policy's one, plus one resume after a restart.
export const MAX_ROLLBACK_ATTEMPTS = 2


const LOCAL_OF: { readonly [K in OutboundKind]: HostEventType } = {
  DispatchAck: 'LocalActivate',
  ActivationStarted: 'LocalActivationStarted',
  ActivationCompleted: 'LocalActivationCompleted',
  ActivationDeferred: 'LocalActivationDeferred',
  ActivationFailed: 'LocalActivationFailed',
  ProbeTopologyDeclared: 'LocalProbeTopologyDeclared',
  ProbeObservedFirst: 'LocalProbeObservedFirst',
  ProbeResult: 'LocalProbeResult',
  ProbeFailureFirst: 'LocalProbeFailureFirst',
  Failed: 'LocalSustainedFailureCrossed',
  RollbackComplete: 'LocalRollbackCompleted',
  Converged: 'LocalConvergedReached',
}

/** The Local event an outbound event was emitted by (inverse of the core's `toOutbound`). */
export function localEventOf(e: OutboundAgentEvent, targetClosure: string): HostEvent {
  if (e.kind === 'DispatchAck') {
    return {
      type: 'LocalActivate',
      seq: e.seq,
      currentClosureAtDispatch: e.currentClosureAtDispatch,
      receivedAt: e.receivedAt,
      targetClosure,
    }
  }
  const { kind, ...rest } = e
  return { type: LOCAL_OF[kind], ...rest } as HostEvent
}

/** The refusals worth a warning (the others are routine: another host, or nothing new). */
const IGNORED_SNAPSHOT: { readonly [R in SnapshotRefusal]?: string } = {
  'target-differs': 'target differs from the local record',
  'not-signed-target': 'not the current signed target of this host',
}

/** The core's view of a wire snapshot (RFC 3339 times as epoch ms, absent values null). */
function snapshotOf(s: HostRolloutSnapshot): HostSnapshot {
  const ms = (t: string | null | undefined): number | null => (t ? parseRfc3339Ms(t) : null)
  return {
    rolloutId: s.rolloutId,
    hostname: s.hostname,
    channel: s.channel,
    phase: s.state,
    targetClosure: s.targetClosure,
    currentClosureAtDispatch: s.currentClosureAtDispatch ?? null,
    currentClosure: s.currentClosure ?? null,
    dispatchedAt: parseRfc3339Ms(s.dispatchedAt),
    dispatchAckedAt: ms(s.dispatchAckedAt),
    activationStartedAt: ms(s.activationStartedAt),
    activationCompletedAt: ms(s.activationCompletedAt),
    soakDueAt: ms(s.soakDueAt),
    lastEventSeq: s.lastEventSeq,
  }
}

/** The dependencies of the reducer. */
export type ReducerDeps = {
  readonly machineId: string
  readonly store: HostStore
  readonly outbox: Outbox
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Metrics
  /** The closure the current-system link names now. */
  readonly currentClosure: () => string | undefined
  readonly activation: {
    submit(intent: ActivationIntent): boolean
    current: ActivationIntent | undefined
  }
  /** The probe worker; `reset` returns the events to apply at once (the topology). */
  readonly probes: {
    reset(rolloutId: string): readonly Unsequenced[]
    stopFor(rolloutId: string): void
  }
  readonly kickDrainer: () => void
  /** The signed target and policy of a rollout (for CP snapshots), if it is the current one. */
  readonly signedRecordFacts: (
    rolloutId: string
  ) =>
    | { targetClosure: string; channel: string; waveIndex: number; policy: StoredHost['policy'] }
    | undefined
}

/** The agent's reducer: host records, the input queue and the effect applier. */
export class AgentReducer {
  readonly queue = new BoundedQueue<AgentInput>(REDUCER_INPUT_CAPACITY)
  private readonly records = new Map<string, StoredHost>()

  constructor(private readonly deps: ReducerDeps) {}

  // ------------------------------------------------------------------ read-only views (workers)

  /** The newest rollout of this host (by dispatch time), or `undefined`. */
  activeRolloutId(): string | undefined {
    let best: StoredHost | undefined
    for (const h of this.records.values()) {
      if (
        !best ||
        h.state.dispatchedAt > best.state.dispatchedAt ||
        (h.state.dispatchedAt === best.state.dispatchedAt &&
          h.state.rolloutId > best.state.rolloutId)
      ) {
        best = h
      }
    }
    return best?.state.rolloutId
  }

  /** The last seq of every known rollout (heartbeat field). */
  lastSeqByRollout(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [id, h] of this.records) out[id] = h.state.lastEventSeq
    return out
  }

  /** A copy of a record's state (tests, status). */
  record(rolloutId: string): StoredHost | undefined {
    return this.records.get(rolloutId)
  }

  /** Whether `rolloutId` is the active rollout (activation intents of others are skipped). */
  isCurrent(rolloutId: string): boolean {
    return this.activeRolloutId() === rolloutId
  }

  // ------------------------------------------------------------------ start-up

  /**
   * Loads persisted records, replays events emitted after the last persisted state (crash
   * between outbox and record writes), and returns how many events were replayed.
   */
  load(): number {
    const { hosts, unreadable } = this.deps.store.loadAll()
    for (const name of unreadable)
      this.deps.log.error('unreadable host record ignored', { file: name })
    let replayed = 0
    for (const h of hosts) {
      let host = h
      const extra = this.deps.outbox.recordedAbove(h.state.rolloutId, h.state.lastEventSeq)
      for (const entry of extra) {
        const event = localEventOf(entry.event, host.state.targetClosure)
        const r = step(host.state, event, this.deps.clock.now(), host.policy)
        if (r.ok) host = { ...host, state: r.state }
        else host = { ...host, state: { ...host.state, lastEventSeq: entry.seq } }
        replayed++
      }
      if (host !== h) this.deps.store.save(host)
      this.records.set(host.state.rolloutId, host)
    }
    for (const path of this.deps.outbox.corrupt)
      this.deps.log.error('unreadable outbox file ignored', { file: path })
    this.refreshGauges()
    return replayed
  }

  /** Runs crash recovery for every loaded record (call once, after `load`, before `run`). */
  recoverAll(): void {
    const active = this.activeRolloutId()
    for (const id of [...this.records.keys()]) this.recover(id, id === active)
  }

  // ------------------------------------------------------------------ the loop

  /** Processes inputs until the queue is closed. */
  async run(): Promise<void> {
    for (;;) {
      const input = await this.queue.pull()
      if (!input) return
      try {
        this.handle(input)
      } catch (e) {
        // A failed write (disk full, read-only) must not kill the loop; the input is lost and
        // the next tick or heartbeat will produce an equivalent one.
        this.deps.log.error('reducer input failed', { input: input.type, error: e })
      }
    }
  }

  /** Handles one input (exposed for tests; production goes through `queue`). */
  handle(input: AgentInput): void {
    switch (input.type) {
      case 'Dispatch':
        return this.onDispatch(input)
      case 'Local':
        return this.onLocal(input.rolloutId, input.event)
      case 'Tick':
        return this.onTick()
      case 'Bootstrap':
        return this.onBootstrap(input.snapshots, input.currentClosure)
      case 'ReplayFrom': {
        if (!this.records.has(input.rolloutId)) return
        const n = this.deps.outbox.replayFrom(input.rolloutId, input.after)
        this.deps.log.info('replaying events for the control plane', {
          rolloutId: input.rolloutId,
          after: input.after,
          events: n,
        })
        if (n > 0) this.deps.kickDrainer()
        return
      }
      case 'RollbackFailed':
        this.deps.log.error('host stays Failed: rollback did not complete', {
          rolloutId: input.rolloutId,
          reason: input.reason,
        })
        return
      default:
        return assertNever(input, 'agent input')
    }
  }

  private onDispatch(input: Extract<AgentInput, { type: 'Dispatch' }>): void {
    const a = input.accepted
    const existing = this.records.get(a.rolloutId)
    if (existing && existing.state.phase !== 'Pending') {
      this.deps.log.info('duplicate dispatch ignored', {
        rolloutId: a.rolloutId,
        state: existing.state.phase,
      })
      return
    }
    const previousActive = this.activeRolloutId()
    const host: StoredHost = existing ?? {
      state: newPendingHost({
        rolloutId: a.rolloutId,
        hostname: this.deps.machineId,
        channel: a.channel,
        targetClosure: a.targetClosure,
        dispatchedAt: input.receivedAt,
      }),
      policy: a.policy,
      waveIndex: a.waveIndex,
      meta: NEW_META,
    }
    if (previousActive !== undefined && previousActive !== a.rolloutId) {
      this.deps.probes.stopFor(previousActive)
      this.deps.log.info('rollout superseded on this host', {
        rolloutId: previousActive,
        by: a.rolloutId,
      })
    }
    this.deps.log.info('dispatch accepted', {
      rolloutId: a.rolloutId,
      target: a.targetClosure,
      prior: input.prior ?? null,
    })
    this.applyNext(host, {
      type: 'LocalActivate',
      currentClosureAtDispatch: input.prior ?? '',
      receivedAt: input.receivedAt,
      targetClosure: a.targetClosure,
    })
  }

  private onLocal(rolloutId: string, event: Unsequenced): void {
    const host = this.records.get(rolloutId)
    if (!host) {
      this.deps.log.debug('event for an unknown rollout dropped', { rolloutId, event: event.type })
      return
    }
    this.applyNext(host, event)
  }

  /** Applies `event` as the record's next one (the only place a Local event gets its seq). */
  private applyNext(host: StoredHost, event: Unsequenced): boolean {
    return this.apply(host, sequenced(event, host.state.lastEventSeq + 1))
  }

  private onTick(): void {
    const id = this.activeRolloutId()
    const host = id === undefined ? undefined : this.records.get(id)
    if (host && host.state.phase === 'Soaking') {
      const verdict = tickVerdict(host.state, this.deps.clock.now(), host.policy)
      if (verdict) this.apply(host, verdict)
    }
    this.collectGarbage()
    this.refreshGauges()
  }

  /** Applies one event: step, persist (events then record), then the other effects. */
  private apply(host: StoredHost, event: HostEvent): boolean {
    const now = this.deps.clock.now()
    const r = step(host.state, event, now, host.policy)
    if (!r.ok) {
      // Duplicates, and probe results racing a transition out of Soaking, are expected noise.
      const expected =
        r.error.type === 'SeqRegression' ||
        (r.error.type === 'IllegalForState' && /^LocalProbe/.test(r.error.event))
      const level = expected ? 'debug' : 'warn'
      this.deps.log[level]('event refused by the state machine', {
        error: r.error.type,
        reason: describeHostStepError(r.error),
      })
      this.deps.metrics.inc(M.reducerErrors, 'Events the state machine refused, by error.', {
        error: r.error.type,
      })
      return false
    }
    const id = host.state.rolloutId
    let emitted = 0
    let meta = host.meta
    for (const eff of r.effects) {
      if (eff.type === 'LocalEmitEvent') {
        if (!eff.durable && this.deps.outbox.depth(id) >= NONDURABLE_OUTBOX_LIMIT) {
          this.deps.log.debug('non-durable event dropped: outbound queue full', {
            rolloutId: id,
            kind: eff.payload.kind,
          })
          continue
        }
        this.deps.outbox.enqueue({
          rolloutId: id,
          seq: eff.payload.seq,
          kind: eff.payload.kind,
          durable: eff.durable,
          createdAt: now,
          event: eff.payload,
        })
        emitted++
      } else if (eff.type === 'LocalFireSwitch') {
        meta = { ...meta, activationAttempts: meta.activationAttempts + 1 }
      } else if (eff.type === 'LocalFireRollbackTo') {
        meta = { ...meta, rollbackAttempts: meta.rollbackAttempts + 1 }
      }
    }
    const next: StoredHost = { ...host, state: r.state, meta }
    this.deps.store.save(next)
    this.records.set(id, next)
    for (const eff of r.effects) this.effect(next, eff)
    if (emitted > 0) this.deps.kickDrainer()
    if (next.state.phase !== 'Soaking') this.deps.probes.stopFor(id)
    return true
  }

  private effect(host: StoredHost, eff: HostEffect): void {
    const id = host.state.rolloutId
    switch (eff.type) {
      case 'LocalEmitEvent':
        return // written to the outbox before the record (see apply)
      case 'LocalFireSwitch':
        return this.submit({ rolloutId: id, closure: eff.target, kind: 'switch', mayRealise: true })
      case 'LocalFireRollbackTo':
        return this.submit({
          rolloutId: id,
          closure: eff.closure,
          kind: 'rollback',
          mayRealise: !host.meta.priorFromCp,
        })
      case 'LocalResetProbeCache':
        // The topology is applied before any queued input (a tick must not converge first).
        if (this.isCurrent(id)) for (const e of this.deps.probes.reset(id)) this.onLocal(id, e)
        return
      case 'RecordTransition':
        this.deps.log.info('host transition', { rolloutId: id, from: eff.from, to: eff.to })
        return
      case 'EmitMetric':
        this.deps.metrics.set(
          eff.name,
          'Metric emitted by the state machine.',
          eff.value,
          eff.labels
        )
        return
      case 'EmitLog':
        this.deps.log[eff.level](eff.message, { target: eff.target, ...eff.fields })
        return
      case 'RemoteQueueDispatch':
      case 'RemoteInsertQuarantine':
      case 'RemoteOpenRolloutRecord':
      case 'RemoteAppendEventLog':
        this.deps.log.error('control-plane effect ignored by the agent', { effect: eff.type })
        return
      default:
        return assertNever(eff, 'host effect')
    }
  }

  private submit(intent: ActivationIntent): void {
    if (!this.deps.activation.submit(intent)) {
      this.deps.log.error('activation queue full; intent dropped', {
        rolloutId: intent.rolloutId,
        kind: intent.kind,
      })
    }
  }

  // ------------------------------------------------------------------ recovery and snapshots

  /** Finishes or resumes whatever a previous run of the agent left in flight for a record. */
  private recover(rolloutId: string, active: boolean): void {
    const host = this.records.get(rolloutId)
    if (!host) return
    const s = host.state
    const current = this.deps.currentClosure()
    const now = this.deps.clock.now()
    const inFlight = this.deps.activation.current?.rolloutId === rolloutId
    switch (s.phase) {
      case 'Pending':
      case 'Converged':
      case 'Reverted':
        return
      case 'Activating':
      case 'Deferred': {
        if (current === s.targetClosure) {
          this.deps.log.info('recovered: host already runs the target', {
            rolloutId,
            state: s.phase,
          })
          this.applyNext(host, {
            type: 'LocalActivationCompleted',
            observedCurrentClosure: current,
            exitCode: 0,
            completedAt: now,
          })
          return
        }
        if (s.phase === 'Deferred' || !active || inFlight) return
        if (host.meta.activationAttempts >= MAX_ACTIVATION_ATTEMPTS) {
          this.applyNext(host, {
            type: 'LocalActivationFailed',
            exitCode: -1,
            stderrTail: `the agent restarted ${host.meta.activationAttempts} times during this activation; giving up`,
            failedAt: now,
          })
          return
        }
        const next = {
          ...host,
          meta: { ...host.meta, activationAttempts: host.meta.activationAttempts + 1 },
        }
        this.deps.store.save(next)
        this.records.set(rolloutId, next)
        this.deps.log.warn('recovered: resuming an interrupted activation', {
          rolloutId,
          attempt: next.meta.activationAttempts,
        })
        this.submit({
          rolloutId,
          closure: s.targetClosure,
          kind: 'resume-switch',
          mayRealise: true,
        })
        return
      }
      case 'Soaking':
        if (active) for (const eff of rehydrationEffects(s)) this.effect(host, eff)
        return
      case 'Failed': {
        const prior = s.currentClosureAtDispatch
        if (s.policyApplied !== 'rollback-and-halt' || s.revertedAt !== null) return
        if (prior === null || prior === '' || prior === s.targetClosure) return
        if (current === prior) {
          this.applyNext(host, {
            type: 'LocalRollbackCompleted',
            revertedToClosure: prior,
            exitCode: 0,
            completedAt: now,
          })
          return
        }
        if (inFlight || host.meta.rollbackAttempts >= MAX_ROLLBACK_ATTEMPTS) return
        const next = {
          ...host,
          meta: { ...host.meta, rollbackAttempts: host.meta.rollbackAttempts + 1 },
        }
        this.deps.store.save(next)
        this.records.set(rolloutId, next)
        this.deps.log.warn('recovered: resuming an interrupted rollback', {
          rolloutId,
          closure: prior,
        })
        this.submit({
          rolloutId,
          closure: prior,
          kind: 'resume-rollback',
          mayRealise: !host.meta.priorFromCp,
        })
        return
      }
      default:
        return assertNever(s.phase, 'host phase')
    }
  }

  /**
   * Adopts the CP's snapshots (boot-recovery handshake, or heartbeats while this host has no
   * record) as the core decides (`adoptSnapshot`), then recovers each adopted record.
   */
  private onBootstrap(
    snapshots: readonly HostRolloutSnapshot[],
    current: string | undefined
  ): void {
    for (const snap of snapshots) {
      const id = snap.rolloutId as string
      const local = this.records.get(id)
      const facts = local ? undefined : this.deps.signedRecordFacts(id)
      const d = adoptSnapshot({
        hostname: this.deps.machineId,
        local: local?.state,
        snapshot: snapshotOf(snap),
        signedTarget: facts?.targetClosure,
      })
      if (!d.adopt) {
        const why = IGNORED_SNAPSHOT[d.reason]
        if (why) this.deps.log.warn(`snapshot ignored: ${why}`, { rolloutId: id })
        continue
      }
      const priorFromCp = (local?.meta.priorFromCp ?? false) || d.priorFromCp
      const host: StoredHost = local
        ? { ...local, state: d.state, meta: { ...local.meta, priorFromCp } }
        : {
            state: d.state,
            policy: facts!.policy,
            waveIndex: facts!.waveIndex,
            meta: { ...NEW_META, priorFromCp },
          }
      this.deps.store.save(host)
      this.records.set(id, host)
      this.deps.log.info('record rehydrated from control-plane snapshot', {
        rolloutId: id,
        state: snap.state,
        lastEventSeq: snap.lastEventSeq,
        current: current ?? null,
      })
      this.recover(id, this.isCurrent(id))
    }
    this.refreshGauges()
  }

  // ------------------------------------------------------------------ housekeeping

  /** Forgets superseded or finished, fully delivered records other than the active one. */
  private collectGarbage(): void {
    const active = this.activeRolloutId()
    for (const [id, h] of this.records) {
      if (id === active) continue
      if (this.deps.outbox.depth(id) > 0 || this.deps.activation.current?.rolloutId === id) continue
      this.deps.store.remove(id)
      this.deps.outbox.forget(id)
      this.records.delete(id)
      this.deps.log.info('rollout record forgotten', { rolloutId: id, state: h.state.phase })
    }
  }

  /** Refreshes the per-rollout state gauge. */
  refreshGauges(): void {
    this.deps.metrics.replace(
      M.rolloutState,
      'The state of each rollout record on this host (value 1).',
      [...this.records.values()].map((h) => ({
        labels: { rollout_id: h.state.rolloutId, state: h.state.phase },
        value: 1,
      }))
    )
  }
}
