/**
 * The agent's single mutator (spec runtime.md §6.4–6.5, STYLE §7.3): one loop pulls inputs from a
 * bounded queue, hands each to the handler of its kind (one module per kind beside this one),
 * and replies. Handlers call the shared core `step` through `apply`, which persists the result and
 * hands the effects to the applier. Workers only submit inputs; only this module and its handlers
 * change host records.
 *
 * Invariants (do not change without updating docs/agent.md):
 * - Seq: every Local event gets `lastEventSeq + 1` in `applyNext`, the only place seqs are
 *   assigned (tick verdicts come numbered the same way from the core).
 * - Persistence order per step: the emitted events are written to the outbox (fsync), then the
 *   record (fsync), then the other effects run. A crash between the first two leaves events
 *   above the record's seq; `load` replays them through `step` at start, so a seq is never
 *   reused for a different event and no emitted event is lost.
 * - Only the newest rollout of this host (by dispatch time) is active: it alone is probed and
 *   ticked; older unfinished records are superseded and forgotten once their events drained.
 * - A failing input (a write error) is logged and dropped; it never stops the loop.
 */
import {
  step,
  sequenced,
  type HostEffect,
  type HostEvent,
  type Unsequenced,
} from '../../core/index.ts'
import { BoundedQueue } from '../../runtime/queue.ts'
import { AgentApplier } from '../applier.ts'
import type { HostMeta, StoredHost } from '../host-store.ts'
import { sleep } from '../timing.ts'
import { onBootstrap } from './bootstrap.ts'
import type { AgentMutatorDeps, Handler, MutatorContext } from './context.ts'
import { onDispatch } from './dispatch.ts'
import type { AgentInput, AgentInputKind, Envelope, ReplyOf } from './inputs.ts'
import { onLocal } from './local.ts'
import { recover, replayRecorded } from './recovery.ts'
import { onReplayFrom } from './replay-from.ts'
import { onRollbackFailed } from './rollback-failed.ts'
import { onTick } from './tick.ts'

// Sizing: ~8 producers (dispatch, heartbeat, tick, activation, one per probe) each with at most
// three inputs in flight per run; 256 absorbs a burst from 32 probes finishing at once while the
// mutator is fsyncing, and stays small enough that a wedged mutator shows up quickly.
export const MUTATOR_INPUT_CAPACITY = 256
// Retry interval when the queue is momentarily full for an input that must not be lost.
const REQUEUE_DELAY_MS = 50

const HANDLERS: { readonly [K in AgentInputKind]: Handler<K> } = {
  Dispatch: onDispatch,
  Local: onLocal,
  Tick: onTick,
  Bootstrap: onBootstrap,
  ReplayFrom: onReplayFrom,
  RollbackFailed: onRollbackFailed,
}

const ignore = (): void => {}

/** The attempt counters after a step that fired `effects`. */
function countFirings(meta: HostMeta, effects: readonly HostEffect[]): HostMeta {
  let m = meta
  for (const eff of effects) {
    if (eff.type === 'LocalFireSwitch') m = { ...m, activationAttempts: m.activationAttempts + 1 }
    if (eff.type === 'LocalFireRollbackTo') m = { ...m, rollbackAttempts: m.rollbackAttempts + 1 }
  }
  return m
}

/** The agent's mutator: host records, the input queue, and the loop around `step`. */
export class AgentMutator implements MutatorContext {
  readonly applier: AgentApplier
  // Each envelope is queued as a closure that delivers it: the loop then never has to match an
  // input back to its reply type (which TypeScript cannot follow through a union).
  private readonly queue = new BoundedQueue<() => void>(MUTATOR_INPUT_CAPACITY)
  private readonly hosts = new Map<string, StoredHost>()

  constructor(readonly deps: AgentMutatorDeps) {
    this.applier = new AgentApplier(deps)
  }

  // ------------------------------------------------------------------ read-only views (workers)

  /** The newest rollout of this host (by dispatch time), or `undefined`. */
  activeRolloutId(): string | undefined {
    let best: StoredHost | undefined
    for (const h of this.hosts.values()) {
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
    for (const [id, h] of this.hosts) out[id] = h.state.lastEventSeq
    return out
  }

  /** The record of `rolloutId` (tests, status). */
  record(rolloutId: string): StoredHost | undefined {
    return this.hosts.get(rolloutId)
  }

  /** Every record. */
  records(): IterableIterator<StoredHost> {
    return this.hosts.values()
  }

  /** Whether `rolloutId` is the active rollout (activation intents of others are skipped). */
  isCurrent(rolloutId: string): boolean {
    return this.activeRolloutId() === rolloutId
  }

  // ------------------------------------------------------------------ producers

  /** Queues an input; false when the queue is full or closed. */
  submit<K extends AgentInputKind>(
    input: AgentInput<K>,
    reply: (r: ReplyOf<K>) => void = ignore
  ): boolean {
    const envelope: Envelope<K> = { input, reply }
    return this.queue.tryPush(() => this.deliver(envelope))
  }

  /** Queues an input that must not be lost, waiting while the queue is full; false once closed. */
  async submitReliably<K extends AgentInputKind>(
    input: AgentInput<K>,
    reply?: (r: ReplyOf<K>) => void
  ): Promise<boolean> {
    while (!this.submit(input, reply)) {
      if (this.queue.isClosed) {
        this.deps.log.warn('input not delivered to the mutator: shutting down', {
          input: input.type,
        })
        return false
      }
      await sleep(REQUEUE_DELAY_MS)
    }
    return true
  }

  /** Stops accepting inputs; `run` returns once the queued ones are handled. */
  close(): void {
    this.queue.close()
  }

  // ------------------------------------------------------------------ start-up

  /**
   * Loads persisted records, replays events emitted after the last persisted state (crash
   * between outbox and record writes), and returns how many events were replayed.
   */
  load(): number {
    const { hosts, unreadable } = this.deps.store.loadAll()
    for (const { file, reason } of unreadable)
      this.deps.log.error('unreadable host record ignored', { file, reason })
    let replayed = 0
    for (const h of hosts) {
      const extra = this.deps.outbox.recordedAbove(h.state.rolloutId, h.state.lastEventSeq)
      const host = replayRecorded(h, extra, this.deps.clock.now())
      if (extra.length > 0) this.applier.save(host)
      this.hosts.set(host.state.rolloutId, host)
      replayed += extra.length
    }
    for (const { file, reason } of this.deps.outbox.corrupt)
      this.deps.log.error('unreadable outbox file ignored', { file, reason })
    this.refreshGauges()
    return replayed
  }

  /** Runs crash recovery for every loaded record (call once, after `load`, before `run`). */
  recoverAll(): void {
    const active = this.activeRolloutId()
    for (const id of [...this.hosts.keys()]) this.recover(id, id === active)
  }

  // ------------------------------------------------------------------ the loop

  /** Handles inputs until the queue is closed and drained. */
  async run(): Promise<void> {
    for (;;) {
      const deliver = await this.queue.pull()
      if (!deliver) return
      deliver()
    }
  }

  private deliver<K extends AgentInputKind>(envelope: Envelope<K>): void {
    let reply: ReplyOf<K>
    try {
      reply = this.handle(envelope.input)
    } catch (e) {
      // A failed write (disk full, read-only) must not kill the loop; the input is lost and
      // the next tick or heartbeat will produce an equivalent one.
      this.deps.log.error('mutator input failed', { input: envelope.input.type, error: e })
      this.deps.problems?.failed('mutator', e)
      return
    }
    this.deps.problems?.ok('mutator')
    envelope.reply(reply)
  }

  /** Handles one input (exposed for tests; production goes through `submit`). */
  handle<K extends AgentInputKind>(input: AgentInput<K>): ReplyOf<K> {
    const handler: Handler<K> = HANDLERS[input.type]
    return handler(this, input)
  }

  // ------------------------------------------------------------------ primitives (handlers)

  apply(host: StoredHost, event: HostEvent): boolean {
    const now = this.deps.clock.now()
    const r = step(host.state, event, now, host.policy)
    if (!r.ok) {
      this.applier.refused(r.error)
      return false
    }
    const queued = this.applier.queueEvents(host.state.rolloutId, r.effects, now)
    const next: StoredHost = { ...host, state: r.state, meta: countFirings(host.meta, r.effects) }
    this.commit(next)
    this.runEffects(next, r.effects)
    this.applier.stepped(next, queued)
    return true
  }

  applyNext(host: StoredHost, event: Unsequenced): boolean {
    return this.apply(host, sequenced(event, host.state.lastEventSeq + 1))
  }

  runEffects(host: StoredHost, effects: readonly HostEffect[]): void {
    const id = host.state.rolloutId
    for (const event of this.applier.runEffects(host, effects, this.isCurrent(id))) {
      const latest = this.hosts.get(id)
      if (latest) this.applyNext(latest, event)
    }
  }

  commit(host: StoredHost): void {
    this.applier.save(host)
    this.hosts.set(host.state.rolloutId, host)
  }

  forget(rolloutId: string): void {
    this.applier.forget(rolloutId)
    this.hosts.delete(rolloutId)
  }

  recover(rolloutId: string, active: boolean): void {
    recover(this, rolloutId, active)
  }

  refreshGauges(): void {
    this.applier.refreshGauges(this.hosts.values())
  }
}
