/**
 * One control-plane replica among several sharing a PostgreSQL database (REPLICAS §4–§5): it
 * follows — serving agents and operators from the state it rebuilds after each of the leader's
 * commits, sending its inputs to the leader through `cp_inputs` — until it takes the advisory
 * lock; then it leads: the state is loaded afresh as a restart would, the caller's `lead` starts
 * the mutator, the poller and the planner's workers, and the input pump applies every replica's
 * queued inputs in the mutator's transactions.
 * Invariants:
 * - Role changes are serialised and happen once: follower → leader. Losing the lead (or the lock
 *   connection) is fatal (`onFatal`), so a replica that may have been fenced out never serves on.
 * - While following, this process writes nothing but its own queued inputs; every write of the
 *   leader's store carries the fence check of its epoch (`PgStore`'s `fence`).
 */
import type { Store } from '../../db/store.ts'
import type { OpenPostgres } from '../../db/pg/client.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import { systemTimers } from '../../runtime/timers.ts'
import type { DispatchHub } from '../dispatch-hub.ts'
import type { ReplicaFigures } from '../http/views/operator.ts'
import type { CpMutator } from '../mutator/loop.ts'
import type { CpState } from '../state.ts'
import type { RestoreOptions, VerifiedCache } from '../workers/restore.ts'
import { CommitFeed, CommitNotifier } from './commit-feed.ts'
import { refreshFollowerState } from './follower-state.ts'
import { InputQueue } from './input-queue.ts'
import { pumpInputs, type InputPump } from './input-pump.ts'
import { Leadership } from './leader.ts'
import { ReplicaPort } from './port.ts'
import { RemoteMutator } from './remote-mutator.ts'
import type { SqlStatement } from '../../db/pg/statement.ts'

// Refreshes quicker than this follow each other without a rest (a small fleet's refresh).
const REST_AFTER_MS = 50

/** The store of a replica: writes can carry a statement of the leader's own (an input done). */
export type ReplicaStore = Store & { appendStatement(s: SqlStatement): void }

/** What a replica needs. */
export type ReplicaDeps = {
  readonly id: string
  readonly pg: OpenPostgres
  readonly store: ReplicaStore
  readonly state: CpState
  readonly hub: DispatchHub
  readonly mutator: CpMutator
  readonly log: Logger
  readonly clock: Clock
  readonly restore: RestoreOptions
  readonly onFatal: (error: unknown) => void
}

/** A replica: its mutator port for the HTTP layer, and its role. */
export class Replica {
  readonly port: ReplicaPort
  private readonly leadership: Leadership
  private readonly queue: InputQueue
  private readonly feed: CommitFeed
  private readonly notifier: CommitNotifier
  private stopFeed: (() => Promise<void>) | undefined
  private pump: InputPump | undefined
  private transitions: Promise<void> = Promise.resolve()
  private lead: (() => Promise<void>) | undefined
  private stopped = false
  private readonly verified: { current: VerifiedCache } = { current: undefined }

  constructor(private readonly deps: ReplicaDeps) {
    const { pg, log } = deps
    this.queue = new InputQueue({ sql: pg.sql, origin: deps.id, log: log.child('replica') })
    this.port = new ReplicaPort(new RemoteMutator({ queue: this.queue, log: log.child('replica') }))
    this.feed = new CommitFeed({ sql: pg.sql, log: log.child('replica') })
    this.notifier = new CommitNotifier(pg.sql, log.child('replica'))
    this.leadership = new Leadership({
      sql: pg.sql,
      id: deps.id,
      onLead: (epoch) => this.serialise(() => this.takeLead(epoch)),
      onLost: (e) => deps.onFatal(e),
    })
  }

  /** The fence of this replica's writes: its epoch while it leads, none that passes otherwise. */
  fence(): number {
    return this.leadership.role === 'leader' ? this.leadership.epoch : -1
  }

  /** The id, role and epoch (status and metrics). */
  figures(): ReplicaFigures {
    return { id: this.deps.id, role: this.leadership.role, epoch: this.leadership.epoch }
  }

  /**
   * Joins the election: leads at once when the lock is free (awaiting `lead`), follows otherwise
   * (state loaded, refresh on the leader's commits) and leads later when the lock comes.
   */
  async start(lead: () => Promise<void>): Promise<void> {
    this.lead = lead
    await this.leadership.start()
    await this.serialise(async () => {
      if (this.leadership.role === 'leader' || this.stopped) return
      await this.refresh()
      this.stopFeed = await this.feed.onCommit(() => this.refresh())
      this.deps.log.info('following', { replica: this.deps.id, epoch: this.leadership.epoch })
    })
  }

  /** Stops taking inputs and leaves the election (the lock is released with its session). */
  async stop(): Promise<void> {
    this.stopped = true
    await this.pump?.stop()
    await this.stopFeed?.()
    await this.leadership.stop()
    await this.queue.close()
  }

  private serialise(step: () => Promise<void>): Promise<void> {
    const next = this.transitions.then(step)
    this.transitions = next.catch((e: unknown) => this.deps.onFatal(e))
    return next
  }

  /**
   * A follower's refresh: the state from the database, then wake-ups and commit listeners. It
   * then rests as long as it took, so reloading a large fleet after every commit of a busy
   * leader takes at most half of this process's time (commits meanwhile are covered by one more
   * refresh: the feed runs one at a time).
   */
  private async refresh(): Promise<void> {
    const started = this.deps.clock.monotonicMs()
    const hosts = await refreshFollowerState(
      this.deps.state,
      this.deps.store,
      this.deps.restore,
      this.verified
    )
    for (const host of hosts) this.deps.hub.notify(host)
    this.port.committed()
    const took = this.deps.clock.monotonicMs() - started
    if (took > REST_AFTER_MS)
      await new Promise<void>((resolve) => systemTimers.setTimeout(resolve, took))
  }

  private async takeLead(epoch: number): Promise<void> {
    if (this.stopped) return
    await this.stopFeed?.()
    this.stopFeed = undefined
    const { mutator, store, pg, log } = this.deps
    // Inputs go to this process's mutator from now on: they queue until `lead` has loaded the
    // state and started it (the poller's first outcome among them).
    this.port.lead(mutator)
    await this.lead?.()
    mutator.onCommit(() => this.notifier.notifyCommit())
    this.pump = await pumpInputs(this.queue, mutator, {
      append: (s) => store.appendStatement(s),
      sql: pg.sql,
      epoch: () => this.leadership.epoch,
      log: log.child('replica'),
    })
    log.info('leading', { replica: this.deps.id, epoch })
  }
}
