/**
 * The control plane's single mutator (STYLE §7.3, DECISIONS §4): one loop pulls inputs from a
 * bounded queue and applies each in one SQLite transaction — the event-log rows and the derived
 * rows together. It is the only caller of the core's `step`, `stepRollout` and `planNext`.
 * Workers and HTTP handlers only `submit`; a full queue is refused at once (HTTP 503).
 *
 * Invariants (do not change without a design update):
 * - One input at a time, synchronously (no await between the first and the last write of an
 *   input). Inputs already queued when the loop wakes run in one transaction (group commit, at
 *   most `MAX_BATCH`), each in its own savepoint; their replies and long-poll wake-ups go out
 *   only after that transaction commits, so every reply reflects committed state.
 * - Host records change only through `step` (agent events, or events the CP synthesizes from
 *   heartbeats, which are marked `synthesized: true` in the event log).
 * - Synthesis never fast-forwards a Pending host a gate would hold: it happens only when the
 *   planner's latest verdict for the host is "dispatch" (or only the disruption budget holds
 *   it, which a host already at its target never enters), and never in a halted rollout.
 * - After start, a host is not dispatched before the CP has heard its heartbeat (or the
 *   startup hold expired), so a CP rebuilt from nothing does not re-activate converged hosts.
 * - A signed artifact is adopted only if it is not older than the high-water mark of its kind
 *   (and channel); refusals are logged, counted and written as `verify_outcome` rows.
 * - A database error aborts the input's transaction and is fatal for the process (crash-only:
 *   memory is rebuilt from the database at the next start).
 */
import {
  allHostsConverged,
  admitDispatch,
  convergesDespite,
  inStartupHold,
  type AdmissionPolicy,
  convergenceAllowed,
  heartbeatSynthesis,
  replayFrom,
  synthesizedActivation,
  synthesizedConverged,
  describeHostStepError,
  isClosed,
  isUnderway,
  isUnfinished,
  newPendingHost,
  openRolloutRecord,
  planNext,
  remoteEventOf,
  retentionDue,
  resolveHostPolicy,
  step,
  stepRollout,
  targetRolloutId,
  adoptionVerdict,
  type AdoptionVerdict,
  type FleetResolved as CoreFleet,
  type HostEvent,
  type HostPolicy,
  type HostRolloutState,
  type OutboundAgentEvent,
  type PlanAction,
  type RolloutEvent,
} from '../core/index.ts'
import { highWaterKey } from '../core/release/anti-rollback.ts'
import type { FrozenPolicy, QueuedDispatch, Store } from '../db/store.ts'
import type { HeartbeatRequest, HostRolloutSnapshot } from '../proto/agent.ts'
import type { BootstrapNonces } from '../proto/bootstrap.ts'
import { parseRfc3339Ms } from '../proto/common.ts'
import type { FleetResolved } from '../proto/fleet.ts'
import type { RolloutManifest } from '../proto/manifest.ts'
import type { Revocations } from '../proto/revocations.ts'
import { BoundedQueue } from '../runtime/queue.ts'
import type { Clock } from '../runtime/clock.ts'
import { toRfc3339 } from '../runtime/clock.ts'
import type { Logger } from '../runtime/log.ts'
import { Applier } from './applier.ts'
import type { DispatchHub } from './dispatch-hub.ts'
import type { CpMetrics } from './metrics.ts'
import { pairKey, type AdoptedArtifact, type AdoptedManifest, type CpState, type HeartbeatSeen } from './state.ts'

/**
 * The reducer queue's capacity. A heartbeat costs the reducer tens of microseconds and an event
 * a few hundred (one transaction), so 8,192 inputs are well under a second of work: enough to
 * absorb 10,000 agents acknowledging a release at once, while a deeper queue would only add
 * latency beyond the 5 s reply timeout. Overflow answers 503 + Retry-After and agents retry.
 */
export const REDUCER_INPUT_CAPACITY = 8192

/** The verification outcome of one signed artifact (workers verify; the reducer adopts). */
export type ArtifactOutcome<T> =
  | { readonly ok: true; readonly artifact: AdoptedArtifact<T> }
  | { readonly ok: false; readonly kind: string; readonly message: string }

/** What one poll of the release source found. */
export type ReleaseOutcome = {
  readonly source: string
  readonly fleet: ArtifactOutcome<FleetResolved>
  /** By channel, for every channel whose rollout id the fleet implies (fleet verified only). */
  readonly manifests: Readonly<Record<string, { readonly rolloutId: string } & ArtifactOutcome<RolloutManifest>>>
}

/** The answer to an agent event. */
export type EventReply = { readonly status: 204 } | { readonly status: 409; readonly error: string }

/** The answer to a heartbeat. */
export type HeartbeatReply = {
  readonly replayFrom: number | null
  readonly replayFromByRollout: Readonly<Record<string, number>>
  readonly bootstrap: HostRolloutSnapshot[] | null
}

/** An operator action. */
export type OperatorOp =
  | { readonly kind: 'resume'; readonly rolloutId: string; readonly reason: string }
  | { readonly kind: 'cancel'; readonly rolloutId: string; readonly reason: string }
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

/** The reducer's inputs. */
export type ReducerInput =
  | {
      readonly type: 'HostEvent'
      readonly host: string
      readonly rolloutId: string
      readonly event: OutboundAgentEvent
      readonly reply: (r: EventReply) => void
    }
  | {
      readonly type: 'Heartbeat'
      readonly request: HeartbeatRequest
      readonly reply: (r: HeartbeatReply) => void
    }
  | { readonly type: 'ReleaseVerified'; readonly outcome: ReleaseOutcome; readonly reply?: () => void }
  | {
      readonly type: 'ListVerified'
      readonly kind: 'revocations' | 'bootstrap-nonces'
      readonly source: string
      readonly outcome: ArtifactOutcome<Revocations | BootstrapNonces>
      readonly reply?: () => void
    }
  | { readonly type: 'PlanTick' }
  | { readonly type: 'TakeDispatch'; readonly host: string; readonly reply: (d: QueuedDispatch | undefined) => void }
  | {
      readonly type: 'UseNonce'
      readonly nonce: string
      readonly hostname: string
      readonly reply: (fresh: boolean) => void
    }
  | {
      readonly type: 'Operator'
      readonly op: OperatorOp
      readonly operator: string
      readonly reply: (r: OperatorReply) => void
    }
  | { readonly type: 'Prune'; readonly reply?: (r: { nonces: number; rollouts: number }) => void }

type Envelope = { readonly input: ReducerInput; readonly queuedAt: number }

/** Reducer tunables (all with sizing reasons at their defaults in `config.ts`). */
export type ReducerOptions = {
  /** How long after start a host that has not heartbeated yet is held back from dispatch. */
  readonly startupDispatchHoldMs: number
  /** How long a delivered but unacknowledged dispatch waits before it is queued again. */
  readonly redeliverAfterMs: number
  /** The delay between a state change and the plan pass it triggers (coalesces bursts). */
  readonly planDebounceMs: number
  /** How long finished rollouts are kept before they are pruned. */
  readonly rolloutRetentionMs: number
  /** How long used bootstrap nonces are remembered (the signed allow-list is the durable guard). */
  readonly nonceRetentionMs: number
}

/** What the reducer needs. */
export type ReducerDeps = {
  readonly store: Store
  readonly state: CpState
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: CpMetrics
  readonly hub: DispatchHub
  readonly options: ReducerOptions
  /** Called when a database write fails (the process should stop; see the header). */
  readonly onFatal: (error: unknown) => void
}

// A plan pass that opened rollouts or synthesized convergence re-plans at once, at most this
// often per input: enough to cascade a DB-rebuilt fleet through its waves, bounded in cost.
const MAX_PLAN_PASSES = 8
// A commit costs ~100 µs on an ordinary disk, more than most inputs; 1,000 agents acknowledging
// a wave at once would otherwise spend most of the loop committing. 128 inputs of the costliest
// common kind (an event, ~0.1 ms) keep one batch near 10 ms.
const MAX_BATCH = 128

/** `input` with its reply (if any) queued on `replies` instead of delivered at once. */
function deferReply(input: ReducerInput, replies: (() => void)[]): ReducerInput {
  if (!('reply' in input) || input.reply === undefined) return input
  const reply = input.reply as (value: unknown) => void
  return { ...input, reply: (value: unknown) => replies.push(() => reply(value)) } as ReducerInput
}

/** The reducer. */
export class Reducer {
  private readonly queue = new BoundedQueue<Envelope>(REDUCER_INPUT_CAPACITY)
  private readonly applier: Applier
  private readonly admission: AdmissionPolicy
  private loopDone: Promise<void> | undefined
  private planTimer: ReturnType<typeof setTimeout> | undefined
  private planQueued = false
  private dirty = false
  private now = 0

  constructor(private readonly deps: ReducerDeps) {
    this.applier = new Applier(deps.store, deps.state, deps.hub, deps.metrics, deps.log)
    this.admission = {
      startedAt: deps.clock.now(),
      startupDispatchHoldMs: deps.options.startupDispatchHoldMs,
      redeliverAfterMs: deps.options.redeliverAfterMs,
    }
  }

  /** The number of queued inputs. */
  get depth(): number {
    return this.queue.size
  }

  /** Queues an input; false when the queue is full or closed (answer 503). */
  submit(input: ReducerInput): boolean {
    const ok = this.queue.tryPush({ input, queuedAt: this.deps.clock.monotonicMs() })
    if (!ok) this.deps.metrics.reducerRejected.inc({ input: input.type })
    return ok
  }

  /** Queues an input built around a reply resolver; `undefined` when the queue refused it. */
  request<T>(make: (reply: (value: T) => void) => ReducerInput): Promise<T> | undefined {
    const { promise, resolve } = Promise.withResolvers<T>()
    return this.submit(make(resolve)) ? promise : undefined
  }

  /** Starts the loop. */
  start(): void {
    this.loopDone ??= this.loop()
  }

  /** Stops accepting inputs, drains what is queued, and resolves when the loop has ended. */
  async stop(): Promise<void> {
    clearTimeout(this.planTimer)
    this.queue.close()
    await (this.loopDone ?? Promise.resolve())
  }

  private async loop(): Promise<void> {
    for (;;) {
      const first = await this.queue.pull()
      if (first === undefined) return
      const batch = [first]
      for (let next = this.queue.tryPull(); next !== undefined; next = this.queue.tryPull()) {
        batch.push(next)
        if (batch.length === MAX_BATCH) break
      }
      const replies: (() => void)[] = []
      let current = first
      try {
        this.deps.store.transaction(() => {
          for (const env of batch) {
            current = env
            this.runOne(env, replies)
          }
        })
      } catch (e) {
        this.applier.discardPending()
        this.deps.log.error('reducer input failed; stopping (state is rebuilt from the database at start)', {
          input: current.input.type,
          error: e instanceof Error ? e.message : String(e),
        })
        this.deps.onFatal(e)
        this.queue.close()
        return
      }
      this.applier.flushWakeups()
      for (const reply of replies) reply()
      if (this.dirty) this.schedulePlan()
    }
  }

  /** Handles one input inside the batch's transaction; its reply is held until the commit. */
  private runOne(env: Envelope, replies: (() => void)[]): void {
    const started = this.deps.clock.monotonicMs()
    this.deps.metrics.reducerWait.observe((started - env.queuedAt) / 1000, { input: env.input.type })
    this.now = this.deps.clock.now()
    this.handle(deferReply(env.input, replies))
    this.deps.metrics.reducerLatency.observe((this.deps.clock.monotonicMs() - started) / 1000, {
      input: env.input.type,
    })
  }

  /** One transaction; rows the applier batched (grouped gate decisions) are written before it commits. */
  private tx<T>(fn: () => T): T {
    return this.deps.store.transaction(() => {
      const result = fn()
      this.applier.flushGateGroups(this.now)
      return result
    })
  }

  private handle(input: ReducerInput): void {
    switch (input.type) {
      case 'HostEvent':
        input.reply(this.tx(() => this.onHostEvent(input.host, input.rolloutId, input.event)))
        return
      case 'Heartbeat':
        input.reply(this.onHeartbeat(input.request))
        return
      case 'ReleaseVerified':
        this.tx(() => this.onRelease(input.outcome))
        input.reply?.()
        return
      case 'ListVerified':
        this.tx(() => this.onList(input.kind, input.source, input.outcome))
        input.reply?.()
        return
      case 'PlanTick':
        this.planQueued = false
        this.tx(() => this.runPlan())
        return
      case 'TakeDispatch':
        input.reply(this.tx(() => this.applier.takeDispatch(input.host, this.now)))
        return
      case 'UseNonce':
        input.reply(this.tx(() => this.deps.store.security.insertNonce(input.nonce, input.hostname, this.now)))
        return
      case 'Operator':
        input.reply(this.tx(() => this.onOperator(input.op, input.operator)))
        return
      case 'Prune': {
        const r = this.tx(() => this.onPrune())
        input.reply?.(r)
        return
      }
      default: {
        const never: never = input
        throw new Error(`unknown reducer input ${(never as { type: string }).type}`)
      }
    }
  }

  // ---------------------------------------------------------------- planning

  private schedulePlan(): void {
    this.dirty = false
    if (this.planQueued || this.planTimer !== undefined) return
    this.planTimer = setTimeout(() => {
      this.planTimer = undefined
      if (!this.planQueued && this.submit({ type: 'PlanTick' })) this.planQueued = true
    }, this.deps.options.planDebounceMs)
  }

  /** One planning round: plan, apply, and re-plan while that unlocked more (bounded). */
  private runPlan(): void {
    const { state } = this.deps
    for (let pass = 0; pass < MAX_PLAN_PASSES; pass++) {
      const manifests = state.manifestSet()
      if (manifests === undefined) return
      const actions = planNext(manifests, state.fleetState(), state.quarantineSet(), this.now)
      state.lastPlanAt = this.now
      let again = false
      for (const action of actions) if (this.applyPlanAction(action)) again = true
      if (!again) return
    }
    this.dirty = true
  }

  /** Applies one plan action; true when it changed what the next pass would decide. */
  private applyPlanAction(a: PlanAction): boolean {
    switch (a.type) {
      case 'OpenRollout':
        this.openRollout(a.rolloutId, a.channel, a.targetRef)
        return true
      case 'AdvanceWave':
        this.stepRolloutEvent({
          type: 'WaveAdvanced',
          rolloutId: a.rolloutId,
          fromWave: a.fromWave,
          toWave: a.toWave,
          at: this.now,
        })
        return false
      case 'QueueDispatch':
        return this.onQueueDispatch(a)
      case 'DeferDispatch':
        return this.onDeferDispatch(a)
      default: {
        const never: never = a
        throw new Error(`unknown plan action ${(never as { type: string }).type}`)
      }
    }
  }

  private openRollout(rolloutId: string, channel: string, targetRef: string): void {
    const { state, store } = this.deps
    const release = state.release
    const manifest = release?.manifests[channel]
    if (release === undefined || manifest === undefined) return
    const fleet: CoreFleet = release.fleet.value
    const policyName = fleet.channels[channel]?.rolloutPolicy ?? ''
    const policy: FrozenPolicy = {
      policyName,
      policy: Object.hasOwn(fleet.rolloutPolicies, policyName) ? fleet.rolloutPolicies[policyName]! : null,
      waves: fleet.waves[channel] ?? [],
    }
    const predecessors = [...state.rollouts.values()]
      .filter((r) => r.record.channel === channel && r.record.rolloutId !== rolloutId)
      .filter((r) => r.record.phase !== 'Superseded' && r.record.phase !== 'Pruned')
      .map((r) => r.record.rolloutId)
    const opened = { type: 'RolloutOpened', rolloutId, channel, targetRef, at: this.now } as const
    const record = openRolloutRecord(opened)
    const seq = this.applier.append('rollout_event', this.now, rolloutEventPayload(opened), null, rolloutId)
    const budgets = manifest.value.disruptionBudgets
    store.rollouts.insert(record, policy, budgets, seq)
    state.rollouts.set(rolloutId, { record, policy, budgets })
    for (const old of predecessors) {
      this.stepRolloutEvent({ type: 'SuccessorOpened', supersededRolloutId: old, successorRolloutId: rolloutId, at: this.now })
    }
    const hosts: string[] = []
    for (const entry of manifest.value.hostSet) {
      const rec = newPendingHost({
        rolloutId,
        hostname: entry.hostname,
        channel,
        targetClosure: entry.targetClosure,
        dispatchedAt: this.now,
      })
      store.hosts.upsert(rec, entry.waveIndex)
      state.putHost(rec, entry.waveIndex)
      hosts.push(entry.hostname)
      this.stepRolloutEvent({ type: 'HostJoined', rolloutId, hostname: entry.hostname, wave: entry.waveIndex, at: this.now })
    }
    this.applier.append('plan_action', this.now, { action: 'OpenRollout', rolloutId, channel, targetRef, hosts }, null, rolloutId)
    this.deps.log.info('rollout opened', { rolloutId, hosts: hosts.length, superseded: predecessors })
  }

  private onQueueDispatch(a: Extract<PlanAction, { type: 'QueueDispatch' }>): boolean {
    const { state } = this.deps
    const key = pairKey(a.rolloutId, a.hostname)
    state.decisions.set(key, 'queue')
    const rec = state.host(a.rolloutId, a.hostname)
    if (rec === undefined) return false
    const heartbeat = state.heartbeats.get(a.hostname)
    const admission = admitDispatch(
      {
        record: rec,
        heartbeat,
        queued: state.dispatch.get(a.hostname)?.has(a.rolloutId) === true,
        deliveredAt: state.delivered.get(key),
        now: this.now,
      },
      this.admission
    )
    switch (admission.type) {
      case 'converge':
        return this.synthesizeConverged(rec, admission.at)
      case 'wait':
        return false
      case 'hold':
        this.applier.recordGate(a.rolloutId, a.hostname, admission.gate, admission.reason, this.now)
        return false
      case 'queue': {
        const policy = this.policyFor(a.rolloutId, a.channel, a.waveIndex)
        this.applier.enqueueDispatch(
          {
            hostname: a.hostname,
            rolloutId: a.rolloutId,
            targetClosure: a.targetClosure,
            // Informational for agents (soak is measured per host from activation, DECISIONS §3.5).
            soakDueAt: this.now + (policy?.soakMs ?? 0),
            enqueuedAt: this.now,
            waveIndex: a.waveIndex,
          },
          this.now
        )
        return false
      }
    }
  }

  private onDeferDispatch(a: Extract<PlanAction, { type: 'DeferDispatch' }>): boolean {
    const { state } = this.deps
    state.decisions.set(pairKey(a.rolloutId, a.hostname), a.gate)
    const rec = state.host(a.rolloutId, a.hostname)
    const hb = state.heartbeats.get(a.hostname)
    if (rec !== undefined && hb !== undefined && convergesDespite(a.gate, rec, hb)) return this.synthesizeConverged(rec, hb.at)
    this.applier.recordGate(a.rolloutId, a.hostname, a.gate, a.reason, this.now)
    return false
  }

  private markDirty(): void {
    this.dirty = true
  }

  // ---------------------------------------------------------------- host records

  private policyFor(rolloutId: string, channel: string, waveIndex: number): HostPolicy | undefined {
    const frozen = this.deps.state.rollouts.get(rolloutId)?.policy
    if (frozen === undefined || frozen.policy === null) return undefined
    const fleet: CoreFleet = {
      hosts: {},
      channels: { [channel]: { rolloutPolicy: frozen.policyName } },
      rolloutPolicies: { [frozen.policyName]: frozen.policy },
      waves: { [channel]: frozen.waves },
      edges: [],
      channelEdges: [],
    }
    return resolveHostPolicy(fleet, channel, waveIndex)
  }

  /** The record of a pair: from memory, else from the database. */
  private record(rolloutId: string, host: string): { state: HostRolloutState; waveIndex: number } | undefined {
    const mem = this.deps.state.host(rolloutId, host)
    if (mem !== undefined) {
      return { state: mem, waveIndex: this.deps.state.waveIndex.get(pairKey(rolloutId, host)) ?? 0 }
    }
    return this.deps.store.hosts.get(rolloutId, host)
  }

  /** Steps one host record and applies everything that follows; the error if `step` refused. */
  private stepHost(
    prev: HostRolloutState,
    waveIndex: number,
    event: HostEvent,
    synthesized: boolean
  ): string | undefined {
    const { state, store } = this.deps
    const policy = this.policyFor(prev.rolloutId, prev.channel, waveIndex)
    if (policy === undefined) return `no rollout policy is known for ${prev.rolloutId}`
    const r = step(prev, event, this.now, policy)
    if (!r.ok) return describeHostStepError(r.error)
    const next = r.state
    store.hosts.upsert(next, waveIndex)
    const rollout = state.rollouts.get(next.rolloutId)
    const live = rollout !== undefined && !isClosed(rollout.record.phase)
    if (live || isUnderway(next.phase)) state.putHost(next, waveIndex)
    else state.dropHost(next.rolloutId, next.hostname)
    this.applier.applyHostEffects(r.effects, { now: this.now, synthesized })
    if (synthesized) this.deps.metrics.synthesized.inc({ kind: event.type.replace(/^Remote/, '') })
    if (next.phase !== prev.phase) {
      this.markDirty()
      if (prev.phase === 'Pending') this.applier.withdrawDispatch(next.hostname, next.rolloutId)
      this.stepRolloutEvent({
        type: 'HostStateChanged',
        rolloutId: next.rolloutId,
        hostname: next.hostname,
        from: prev.phase,
        to: next.phase,
        at: this.now,
      })
      if (next.phase === 'Converged' && live) {
        const phases = Object.values(state.hosts[next.rolloutId] ?? {}).map((h) => h.phase)
        if (allHostsConverged(phases)) this.stepRolloutEvent({ type: 'RolloutTerminal', rolloutId: next.rolloutId, at: this.now })
      }
    }
    return undefined
  }

  private onHostEvent(host: string, rolloutId: string, event: OutboundAgentEvent): EventReply {
    const found = this.record(rolloutId, host)
    if (found === undefined) {
      return { status: 409, error: `the control plane has no record of ${host} in rollout ${rolloutId}` }
    }
    // Idempotent retransmit (the route checks too; this covers a race between two posts).
    if (event.seq <= found.state.lastEventSeq) return { status: 204 }
    const error = this.stepHost(found.state, found.waveIndex, remoteEventOf(event), false)
    if (error !== undefined) {
      this.deps.log.info('agent event refused', { host, rolloutId, kind: event.kind, seq: event.seq, reason: error })
      return { status: 409, error }
    }
    return { status: 204 }
  }

  /** Pending → Converged for a host already running its target (DispatchAck, Completed, Converged). */
  private synthesizeConverged(rec: HostRolloutState, at: number): boolean {
    const { state } = this.deps
    if (!convergenceAllowed(rec, state.rollouts.get(rec.rolloutId)?.record)) return false
    const waveIndex = state.waveIndex.get(pairKey(rec.rolloutId, rec.hostname)) ?? 0
    for (const ev of synthesizedActivation(rec, at)) {
      const cur = state.host(rec.rolloutId, rec.hostname)
      if (cur === undefined || this.stepHost(cur, waveIndex, ev, true) !== undefined) return false
    }
    const soaking = state.host(rec.rolloutId, rec.hostname)
    if (soaking === undefined) return false
    const err = this.stepHost(soaking, waveIndex, synthesizedConverged(soaking, at), true)
    if (err !== undefined) {
      this.deps.log.warn('convergence synthesis refused', { host: rec.hostname, rolloutId: rec.rolloutId, reason: err })
      return false
    }
    this.deps.log.info('host already at its target; convergence synthesized', { host: rec.hostname, rolloutId: rec.rolloutId })
    return true
  }

  private onHeartbeat(req: HeartbeatRequest): HeartbeatReply {
    const { state } = this.deps
    const host = req.hostname as string
    const closure = (req.current_closure as string | null) ?? null
    const at = parseRfc3339Ms(req.at)
    const firstSinceStart = !state.heartbeats.has(host)
    const agentSeqs = req.last_event_seq_by_rollout ?? {}
    const hb: HeartbeatSeen = { at, receivedAt: this.now, closure, seqs: agentSeqs }
    state.heartbeats.set(host, hb)
    // A host held by the startup hold is released by its first heartbeat: plan soon.
    if (firstSinceStart && inStartupHold(this.now, this.admission)) this.markDirty()
    if (closure !== null) {
      for (const rolloutId of [...(state.byHost.get(host) ?? [])]) {
        const rec = state.host(rolloutId, host)
        if (rec === undefined) continue
        const verdict = state.decisions.get(pairKey(rolloutId, host))
        const todo = heartbeatSynthesis(rec, hb, at, verdict)
        if (todo.type === 'complete') {
          const waveIndex = state.waveIndex.get(pairKey(rolloutId, host)) ?? 0
          const err = this.tx(() => this.stepHost(rec, waveIndex, todo.event, true))
          if (err !== undefined) this.deps.log.warn('completion synthesis refused', { host, rolloutId, reason: err })
        } else if (todo.type === 'converge') {
          this.tx(() => this.synthesizeConverged(rec, at))
        } else if (todo.type === 'replan') {
          this.markDirty()
        }
      }
    }
    const rid = (req.rollout_id as string | null) ?? null
    const current = rid === null ? undefined : this.record(rid, host)?.state
    const replay = current === undefined ? null : replayFrom(current, agentSeqs[current.rolloutId], closure)
    const replayFromByRollout: Record<string, number> = {}
    for (const [id, seq] of Object.entries(agentSeqs)) {
      const rec = this.record(id, host)?.state
      const from = rec === undefined ? null : replayFrom(rec, seq, null)
      if (from !== null) replayFromByRollout[id] = from
    }
    return { replayFrom: replay, replayFromByRollout, bootstrap: rid === null ? this.snapshots(host) : null }
  }

  private snapshots(host: string): HostRolloutSnapshot[] {
    const { state } = this.deps
    const out: HostRolloutSnapshot[] = []
    for (const rolloutId of [...(state.byHost.get(host) ?? [])].sort()) {
      const r = state.host(rolloutId, host)
      if (r === undefined || !isUnfinished(r.phase)) continue
      const opt = (k: string, v: string | number | null) =>
        v === null ? {} : { [k]: typeof v === 'number' ? toRfc3339(v) : v }
      out.push({
        rolloutId: r.rolloutId,
        hostname: r.hostname,
        channel: r.channel,
        state: r.phase,
        targetClosure: r.targetClosure,
        ...opt('currentClosureAtDispatch', r.currentClosureAtDispatch),
        ...opt('currentClosure', r.currentClosure),
        dispatchedAt: toRfc3339(r.dispatchedAt),
        ...opt('dispatchAckedAt', r.dispatchAckedAt),
        ...opt('activationStartedAt', r.activationStartedAt),
        ...opt('activationCompletedAt', r.activationCompletedAt),
        ...opt('soakDueAt', r.soakDueAt),
        lastEventSeq: r.lastEventSeq,
      } as HostRolloutSnapshot)
    }
    return out
  }

  // ---------------------------------------------------------------- rollouts

  /** Steps a rollout; writes a `rollout_event` row only when the step changed something. */
  private stepRolloutEvent(event: RolloutEvent): string | undefined {
    const { state, store } = this.deps
    const id = targetRolloutId(event)
    const live = state.rollouts.get(id)
    if (live === undefined) return `unknown rollout ${id}`
    const r = stepRollout(live.record, event, this.now)
    if (!r.ok) {
      this.deps.log.warn('rollout event refused', { rolloutId: id, event: event.type, error: r.error.type })
      return r.error.type === 'IllegalForState'
        ? `${event.type} is not legal for rollout ${id} in state ${r.error.from}`
        : r.error.reason
    }
    if (r.record === live.record && r.effects.length === 0) return undefined
    const seq = this.applier.append('rollout_event', this.now, rolloutEventPayload(event), null, id)
    live.record = r.record
    store.rollouts.update(r.record, seq)
    this.applier.applyRolloutEffects(r.effects, this.now, seq)
    if (isClosed(r.record.phase)) {
      this.applier.deleteDispatchesOf(id)
      state.evictSettled(id)
    }
    this.markDirty()
    return undefined
  }

  // ---------------------------------------------------------------- signed artifacts

  private checkMark(key: string, a: AdoptedArtifact<unknown>): AdoptionVerdict {
    return adoptionVerdict(a, this.deps.state.marks.get(key))
  }

  private setMark(key: string, a: AdoptedArtifact<unknown>): void {
    this.deps.state.marks.set(key, { signedAtMs: a.signedAtMs, ciCommit: a.ciCommit, sha256: a.sha256 })
    this.deps.store.release.setMark(
      { key, signedAtMs: a.signedAtMs, ciCommit: a.ciCommit, sha256: a.sha256 },
      this.now
    )
  }

  /** Records a refused artifact: log, metric, status, and a (debounced) `verify_outcome` row. */
  private refuse(key: string, artifact: string, source: string, kind: string, message: string, channel?: string): void {
    const { state } = this.deps
    this.deps.metrics.verifyFailures.inc({ artifact, kind })
    const prev = state.status.get(key)
    state.status.set(key, {
      key,
      adopted: prev?.adopted ?? null,
      lastCheckedAt: this.now,
      lastError: { kind, message, at: this.now },
    })
    if (prev?.lastError?.kind === kind && prev.lastError.message === message) return
    this.deps.log.warn('signed artifact refused', { artifact, channel, source, kind, message })
    this.applier.append('verify_outcome', this.now, {
      artifact,
      ...(channel !== undefined ? { channel } : {}),
      source,
      ok: false,
      kind,
      message,
    })
  }

  private accepted(key: string, a: AdoptedArtifact<unknown>, changed: boolean, artifact: string, source: string, channel?: string): void {
    this.deps.state.status.set(key, {
      key,
      adopted: { sha256: a.sha256, signedAt: a.signedAt, at: changed ? this.now : (this.deps.state.status.get(key)?.adopted?.at ?? this.now) },
      lastCheckedAt: this.now,
      lastError: null,
    })
    if (!changed) return
    this.applier.append('verify_outcome', this.now, {
      artifact,
      ...(channel !== undefined ? { channel } : {}),
      source,
      ok: true,
      sha256: a.sha256,
      signedAt: a.signedAt,
      ciCommit: a.ciCommit,
    })
  }

  private storeArtifact(key: string, a: AdoptedArtifact<unknown>): void {
    this.deps.store.release.setArtifact({
      key,
      artifact: a.bytes,
      signature: a.signature,
      sha256: a.sha256,
      adoptedAt: this.now,
    })
  }

  private onRelease(outcome: ReleaseOutcome): void {
    const { state } = this.deps
    const fleetKey = highWaterKey('fleet')
    if (!outcome.fleet.ok) {
      this.refuse(fleetKey, 'fleet', outcome.source, outcome.fleet.kind, outcome.fleet.message)
      return
    }
    const fleet = outcome.fleet.artifact
    const fleetMark = this.checkMark(fleetKey, fleet)
    if (!fleetMark.ok) {
      this.refuse(fleetKey, 'fleet', outcome.source, fleetMark.kind, fleetMark.message)
      return
    }
    const current = state.release
    const manifests: Record<string, AdoptedManifest> = {}
    for (const [channel, m] of Object.entries(outcome.manifests)) {
      const key = highWaterKey('rollout-manifest', channel)
      if (!m.ok) {
        this.refuse(key, 'rollout-manifest', outcome.source, m.kind, m.message, channel)
        continue
      }
      const mark = this.checkMark(key, m.artifact)
      if (!mark.ok) {
        this.refuse(key, 'rollout-manifest', outcome.source, mark.kind, mark.message, channel)
        continue
      }
      manifests[channel] = { ...m.artifact, rolloutId: m.rolloutId }
    }
    const fleetChanged = current === undefined || current.fleet.sha256 !== fleet.sha256
    this.accepted(fleetKey, fleet, fleetChanged, 'fleet', outcome.source)
    let changed = fleetChanged
    for (const [channel, m] of Object.entries(manifests)) {
      const mChanged = current?.manifests[channel]?.sha256 !== m.sha256
      this.accepted(highWaterKey('rollout-manifest', channel), m, mChanged, 'rollout-manifest', outcome.source, channel)
      if (mChanged) changed = true
    }
    if (current !== undefined && Object.keys(current.manifests).some((c) => manifests[c] === undefined)) changed = true
    if (!changed) return
    if (fleetMark.advance) this.setMark(fleetKey, fleet)
    this.storeArtifact(fleetKey, fleet)
    for (const [channel, m] of Object.entries(manifests)) {
      const key = highWaterKey('rollout-manifest', channel)
      const mark = state.marks.get(key)
      if (mark?.sha256 !== m.sha256) this.setMark(key, m)
      this.storeArtifact(key, m)
    }
    state.release = { fleet, manifests, adoptedAt: this.now }
    this.applier.append('manifest_poll', this.now, {
      source: outcome.source,
      fleetSha256: fleet.sha256,
      signedAt: fleet.signedAt,
      ciCommit: fleet.ciCommit,
      rollouts: Object.values(manifests).map((m) => m.rolloutId).sort(),
    })
    this.deps.log.info('release adopted', {
      source: outcome.source,
      ciCommit: fleet.ciCommit,
      signedAt: fleet.signedAt,
      rollouts: Object.values(manifests).map((m) => m.rolloutId),
    })
    this.runPlan()
  }

  private onList(
    kind: 'revocations' | 'bootstrap-nonces',
    source: string,
    outcome: ArtifactOutcome<Revocations | BootstrapNonces>
  ): void {
    const { state, store } = this.deps
    const key = highWaterKey(kind)
    if (!outcome.ok) {
      this.refuse(key, kind, source, outcome.kind, outcome.message)
      return
    }
    const a = outcome.artifact
    const mark = this.checkMark(key, a)
    if (!mark.ok) {
      this.refuse(key, kind, source, mark.kind, mark.message)
      return
    }
    const adopted = kind === 'revocations' ? state.revocationsAdopted : state.noncesAdopted
    const changed = adopted?.sha256 !== a.sha256
    this.accepted(key, a, changed, kind, source)
    if (!changed) return
    if (mark.advance) this.setMark(key, a)
    this.storeArtifact(key, a)
    if (kind === 'revocations') {
      state.revocationsAdopted = a
      for (const r of (a.value as Revocations).revocations) {
        const entry = {
          hostname: r.hostname as string,
          notBefore: parseRfc3339Ms(r.notBefore),
          reason: r.reason,
          revokedBy: r.revokedBy,
          revokedAt: this.now,
        }
        store.security.upsertRevocation(entry)
        state.revocations.set(entry.hostname, entry)
      }
    } else {
      state.noncesAdopted = a
      state.nonces = new Map((a.value as BootstrapNonces).bootstrapNonces.map((n) => [n.nonce, n]))
    }
  }

  // ---------------------------------------------------------------- operators and retention

  private onOperator(op: OperatorOp, operator: string): OperatorReply {
    const { state, store } = this.deps
    const audit = (action: string, target: string, reason: string): void => {
      const seq = this.applier.append('operator_action', this.now, { action, operator, target, reason }, null, op.kind === 'clear-quarantine' ? null : target)
      store.safety.insertOperatorAction({ at: this.now, operator, action, target, reason, eventLogSeq: seq })
      this.deps.log.info('operator action', { action, operator, target, reason })
    }
    switch (op.kind) {
      case 'resume':
      case 'cancel': {
        const live = state.rollouts.get(op.rolloutId)
        if (live === undefined) return { ok: false, status: 404, error: `unknown rollout ${op.rolloutId}` }
        if (live.record.halt === null) {
          return { ok: false, status: 409, error: `rollout ${op.rolloutId} is not halted (state ${live.record.phase})` }
        }
        audit(op.kind, op.rolloutId, op.reason)
        // The core has no cancel fact; a cancelled rollout is retired exactly as retention
        // retires one (→ Pruned: closed, halt cleared, channel-edge successors unblocked).
        const event: RolloutEvent =
          op.kind === 'resume'
            ? { type: 'OperatorClearance', rolloutId: op.rolloutId, operator, reason: op.reason, at: this.now }
            : { type: 'RetentionExpired', rolloutId: op.rolloutId, at: this.now }
        const err = this.stepRolloutEvent(event)
        if (err !== undefined) return { ok: false, status: 409, error: err }
        this.markDirty()
        const r = state.rollouts.get(op.rolloutId)!.record
        return { ok: true, body: { rolloutId: op.rolloutId, state: r.phase, halted: r.halt !== null } }
      }
      case 'clear-quarantine': {
        if (state.quarantines.get(op.channel)?.has(op.closure) !== true) {
          return { ok: false, status: 404, error: `closure is not quarantined on channel ${op.channel}` }
        }
        audit('clear-quarantine', `${op.channel}/${op.closure}`, op.reason)
        store.safety.unquarantine(op.channel, op.closure)
        const m = state.quarantines.get(op.channel)!
        m.delete(op.closure)
        if (m.size === 0) state.quarantines.delete(op.channel)
        this.markDirty()
        return { ok: true, body: { channel: op.channel, closure: op.closure, cleared: true } }
      }
      default: {
        const never: never = op
        throw new Error(`unknown operator action ${(never as { kind: string }).kind}`)
      }
    }
  }

  private onPrune(): { nonces: number; rollouts: number } {
    const { state, store, options } = this.deps
    const nonces = store.security.pruneNonces(this.now - options.nonceRetentionMs)
    const cutoff = this.now - options.rolloutRetentionMs
    let rollouts = 0
    for (const live of [...state.rollouts.values()]) {
      const r = live.record
      if (!retentionDue(r, cutoff)) continue
      if (this.stepRolloutEvent({ type: 'RetentionExpired', rolloutId: r.rolloutId, at: this.now }) === undefined) {
        store.hosts.deleteOfRollout(r.rolloutId)
        for (const host of Object.keys(state.hosts[r.rolloutId] ?? {})) state.dropHost(r.rolloutId, host)
        rollouts++
      }
    }
    if (nonces > 0 || rollouts > 0) this.deps.log.info('pruned', { nonces, rollouts })
    return { nonces, rollouts }
  }
}

/** The `rollout_event` payload of a rollout event (times as RFC 3339). */
export function rolloutEventPayload(event: RolloutEvent): Record<string, unknown> {
  const { type, at, ...rest } = event
  return { kind: type, ...rest, at: toRfc3339(at) }
}

/** The rollout event of a `rollout_event` payload (the inverse of `rolloutEventPayload`). */
export function rolloutEventOf(payload: Record<string, unknown>): RolloutEvent {
  const { kind, at, ...rest } = payload as { kind: string; at: string }
  return { type: kind, ...rest, at: parseRfc3339Ms(at) } as RolloutEvent
}
