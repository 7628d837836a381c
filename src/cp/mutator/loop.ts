/**
 * The control plane's single mutator (STYLE §7.3, DECISIONS §4): one loop pulls inputs from a
 * bounded queue and applies each in one store transaction — the event-log rows and the derived
 * rows together — through the handler of its kind (`mutator/<kind>.ts`). The handlers are the
 * only callers of the core's `step`, `stepRollout` and `planNext`. Workers and HTTP handlers
 * only `submit` or `request`; a full queue is refused at once (HTTP 503).
 *
 * Invariants (do not change without a design update):
 * - One input at a time, synchronously (no await between the first and the last write of an
 *   input). Inputs already queued when the loop wakes run in one transaction (group commit, at
 *   most `MAX_BATCH`), each in its own savepoint.
 * - Handlers never read the database: they decide from `CpState` alone and only write (the
 *   store applies writes at once or buffers them until the commit, depending on the backend).
 * - Replies, long-poll wake-ups and commit listeners wait for `store.durable()` after the batch's
 *   transaction, so every reply reflects committed state.
 * - Host records change only through `step` (agent events, or events the CP synthesizes from
 *   heartbeats, which are marked `synthesized: true` in the event log).
 * - A state change is followed by a plan pass, debounced (`planDebounceMs`), at most one such
 *   pass queued at a time.
 * - A database error (in the transaction, or a commit `durable()` reports failed) is fatal for
 *   the process (crash-only: memory is rebuilt from the database at the next start).
 * - Every wait on the mutator ends: once it stops, the inputs of the aborted batch and those still
 *   queued are abandoned (`request` rejects with `MutatorStopped`), and new inputs are refused.
 */
import type { Store } from '../../db/store.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import { BoundedQueue } from '../../runtime/queue.ts'
import { repeatLog } from '../../runtime/repeat-log.ts'
import { Applier } from '../applier.ts'
import type { DispatchHub } from '../dispatch-hub.ts'
import type { CpMetrics } from '../metrics.ts'
import type { CpState } from '../state.ts'
import { listVerified, releaseVerified } from './artifacts.ts'
import { BatchContext, type MutatorContext, type MutatorOptions } from './context.ts'
import { closureChecked } from './closures.ts'
import { takeDispatch } from './dispatch.ts'
import { heartbeat, heartbeatBatch } from './heartbeat.ts'
import { hostEvent } from './host-event.ts'
import { enrolment } from './known-hosts.ts'
import type { Envelope, InputKind, InputOf, ReplyOf } from './inputs.ts'
import { useNonce } from './nonce.ts'
import { operatorAction } from './operator.ts'
import { planTick } from './plan.ts'
import { prune } from './prune.ts'

/**
 * The input queue's capacity. A heartbeat costs the mutator tens of microseconds and an event
 * a few hundred (one transaction), so 8,192 inputs are well under a second of work: enough to
 * absorb 10,000 agents acknowledging a release at once, while a deeper queue would only add
 * latency beyond the 5 s reply timeout. Overflow answers 503 + Retry-After and agents retry.
 */
export const MUTATOR_INPUT_CAPACITY = 8192

// A commit costs ~100 µs on an ordinary disk, more than most inputs; 1,000 agents acknowledging
// a wave at once would otherwise spend most of the loop committing. 128 inputs of the costliest
// common kind (an event, ~0.1 ms) keep one batch near 10 ms.
const MAX_BATCH = 128

/** What the mutator needs. */
export type MutatorDeps = {
  readonly store: Store
  readonly state: CpState
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: CpMetrics
  readonly hub: DispatchHub
  readonly options: MutatorOptions
  /** Called when a database write fails (the process should stop; see the header). */
  readonly onFatal: (error: unknown) => void
}

type Handler<K extends InputKind> = (ctx: MutatorContext, input: InputOf<K>) => ReplyOf<K>

/** `handle` in its own savepoint of the batch's transaction. */
const inSavepoint =
  <K extends InputKind>(handle: Handler<K>): Handler<K> =>
  (ctx, input) =>
    ctx.tx(() => handle(ctx, input))

/** The handler of each input kind. */
const HANDLERS: { readonly [K in InputKind]: Handler<K> } = {
  HostEvent: inSavepoint(hostEvent),
  // Most heartbeats write nothing: savepoints only around what one synthesizes.
  Heartbeat: heartbeat,
  HeartbeatBatch: heartbeatBatch,
  ReleaseVerified: inSavepoint(releaseVerified),
  ListVerified: inSavepoint(listVerified),
  PlanTick: inSavepoint(planTick),
  TakeDispatch: inSavepoint(takeDispatch),
  UseNonce: inSavepoint(useNonce),
  Operator: inSavepoint(operatorAction),
  Prune: inSavepoint(prune),
  Enrolment: inSavepoint(enrolment),
  // Memory only: what changes is the plan pass it may trigger, which writes in its own.
  ClosureChecked: closureChecked,
}

/** Why a `request` was never answered: the mutator stopped (a fatal database error). */
export class MutatorStopped extends Error {
  override readonly name = 'MutatorStopped'
  constructor() {
    super('the control plane is stopping')
  }
}

/** The control plane's single mutator. */
export class CpMutator {
  private readonly queue = new BoundedQueue<Envelope>(MUTATOR_INPUT_CAPACITY)
  private readonly applier: Applier
  private readonly ctx: BatchContext
  private loopDone: Promise<void> | undefined
  private planTimer: ReturnType<typeof setTimeout> | undefined
  private planQueued = false
  private readonly commitListeners = new Set<() => void>()

  constructor(private readonly deps: MutatorDeps) {
    this.applier = new Applier(
      deps.store,
      deps.state,
      deps.hub,
      deps.metrics,
      deps.log,
      deps.options.probeResultsKept
    )
    this.ctx = new BatchContext(
      deps.store,
      deps.state,
      deps.log,
      repeatLog({
        log: deps.log,
        intervalMs: deps.options.refusalLogIntervalMs,
        now: () => deps.clock.monotonicMs(),
        onSuppressed: () => deps.metrics.logSuppressed.inc(),
      }),
      deps.metrics,
      this.applier,
      deps.options,
      deps.clock.now()
    )
  }

  /** The number of queued inputs. */
  get depth(): number {
    return this.queue.size
  }

  /**
   * Queues an input; `reply` (if given) is called with its answer once the batch committed.
   * False when the queue is full or closed (answer 503).
   */
  submit<K extends InputKind>(input: InputOf<K>, reply?: (r: ReplyOf<K>) => void): boolean {
    return this.enqueue(input, reply, undefined, undefined)
  }

  /**
   * `submit`, plus `within`, run inside the batch's transaction right after the input's handler
   * with its answer: a replica leader records a follower's input as done there, so the record
   * commits with the input's effects (`replica/input-pump.ts`).
   */
  submitRecorded<K extends InputKind>(
    input: InputOf<K>,
    within: (r: ReplyOf<K>) => void,
    reply: (r: ReplyOf<K>) => void
  ): boolean {
    return this.enqueue(input, reply, undefined, within)
  }

  /**
   * Queues an input and resolves with its answer after the commit; `undefined` when refused.
   * Rejects with `MutatorStopped` when the mutator stops before the input is committed.
   */
  request<K extends InputKind>(input: InputOf<K>): Promise<ReplyOf<K>> | undefined {
    const { promise, resolve, reject } = Promise.withResolvers<ReplyOf<K>>()
    return this.enqueue(input, resolve, () => reject(new MutatorStopped()), undefined)
      ? promise
      : undefined
  }

  private enqueue<K extends InputKind>(
    input: InputOf<K>,
    reply: ((r: ReplyOf<K>) => void) | undefined,
    abandon: (() => void) | undefined,
    within: ((r: ReplyOf<K>) => void) | undefined
  ): boolean {
    const ok = this.queue.tryPush({
      type: input.type,
      queuedAt: this.deps.clock.monotonicMs(),
      apply: (ctx) => {
        const r = HANDLERS[input.type](ctx, input)
        within?.(r)
        return reply === undefined ? undefined : () => reply(r)
      },
      abandon,
    })
    if (!ok) this.deps.metrics.reducerRejected.inc({ input: input.type })
    return ok
  }

  /**
   * Calls `listener` after each committed batch (the status stream's change feed); returns
   * the function that removes it.
   */
  onCommit(listener: () => void): () => void {
    this.commitListeners.add(listener)
    return () => this.commitListeners.delete(listener)
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
      let stage = 'reducer input failed'
      try {
        this.deps.store.transaction(() => {
          for (const env of batch) {
            current = env
            this.runOne(env, replies)
          }
        })
        stage = 'commit failed'
        await this.deps.store.durable()
      } catch (e) {
        this.applier.discardPending()
        this.deps.log.error(`${stage}; stopping (state is rebuilt from the database at start)`, {
          input: current.type,
          error: e instanceof Error ? e.message : String(e),
        })
        this.deps.onFatal(e)
        this.queue.close()
        // Nothing of this batch was committed, and nothing queued will run: end every wait.
        for (const env of batch) env.abandon?.()
        for (let env = this.queue.tryPull(); env !== undefined; env = this.queue.tryPull())
          env.abandon?.()
        return
      }
      this.applier.flushWakeups()
      for (const reply of replies) reply()
      for (const listener of this.commitListeners) listener()
      if (this.ctx.dirty) this.schedulePlan()
    }
  }

  /** Handles one input inside the batch's transaction; its reply is held until the commit. */
  private runOne(env: Envelope, replies: (() => void)[]): void {
    const started = this.deps.clock.monotonicMs()
    this.deps.metrics.reducerWait.observe((started - env.queuedAt) / 1000, { input: env.type })
    this.ctx.now = this.deps.clock.now()
    // Any plan pass covers the debounced one still queued: the next change schedules anew.
    if (env.type === 'PlanTick') this.planQueued = false
    const reply = env.apply(this.ctx)
    if (reply !== undefined) replies.push(reply)
    this.deps.metrics.reducerLatency.observe((this.deps.clock.monotonicMs() - started) / 1000, {
      input: env.type,
    })
  }

  /** Plans soon after a state change: one debounced `PlanTick`, unless one is pending. */
  private schedulePlan(): void {
    this.ctx.dirty = false
    if (this.planQueued || this.planTimer !== undefined) return
    this.planTimer = setTimeout(() => {
      this.planTimer = undefined
      if (!this.planQueued && this.submit({ type: 'PlanTick' })) this.planQueued = true
    }, this.deps.options.planDebounceMs)
  }
}
