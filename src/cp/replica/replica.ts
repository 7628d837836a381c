/**
 * One control-plane replica among several sharing a PostgreSQL database (docs/control-plane.md, replicas): it
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
// Real time with real timers: the refresh pacing runs on the timers it schedules.
import { systemClock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import { systemTimers, type Timer } from '../../runtime/timers.ts'
import type { DispatchHub } from '../dispatch-hub.ts'
import type { ReplicaFigures } from '../http/views/operator.ts'
import type { CpMetrics } from '../metrics.ts'
import type { CpMutator } from '../mutator/loop.ts'
import type { CpState } from '../state.ts'
import type { RestoreOptions, VerifiedCache } from '../workers/restore.ts'
import { CommitFeed, CommitNotifier } from './commit-feed.ts'
import { refreshFollowerQuick, refreshFollowerState } from './follower-state.ts'
import { InputQueue } from './input-queue.ts'
import { pumpInputs, type InputPump } from './input-pump.ts'
import { Leadership } from './leader.ts'
import { ReplicaPort } from './port.ts'
import { QuietHeartbeats } from './quiet-heartbeats.ts'
import { RemoteMutator } from './remote-mutator.ts'
import type { SqlStatement } from '../../db/pg/statement.ts'

// A follower's views lag the leader's by at most about this (plus the time a reload takes).
const FULL_REFRESH_MS = 2_000
// The known hosts and settled records of closed rollouts (the largest tables, for views only)
// are read again at least this often (`refreshFollowerState`).
const EVERYTHING_REFRESH_MS = 30_000

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
  readonly metrics: CpMetrics
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
  private readonly quiet: QuietHeartbeats
  private stopFeed: (() => Promise<void>) | undefined
  private pump: InputPump | undefined
  private transitions: Promise<void> = Promise.resolve()
  private lead: (() => Promise<Record<string, number>>) | undefined
  private stopped = false
  private readonly verified: { current: VerifiedCache } = { current: undefined }
  private nextFullAt = 0
  private nextEverythingAt = 0
  private fullTimer: Timer | undefined
  private refreshes: Promise<void> = Promise.resolve()

  constructor(private readonly deps: ReplicaDeps) {
    const { pg, log } = deps
    this.queue = new InputQueue({ sql: pg.sql, origin: deps.id, log: log.child('replica') })
    this.port = new ReplicaPort(new RemoteMutator({ queue: this.queue, log: log.child('replica') }))
    this.quiet = new QuietHeartbeats({
      state: deps.state,
      port: this.port,
      clock: systemClock,
      timers: systemTimers,
      log: log.child('replica'),
    })
    this.port.answerQuietly(this.quiet)
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

  /** What this replica verified of the stored artifacts as a follower (reused when it leads). */
  get verifiedCache(): { current: VerifiedCache } {
    return this.verified
  }

  /** The id, role and epoch (status and metrics). */
  figures(): ReplicaFigures {
    return { id: this.deps.id, role: this.leadership.role, epoch: this.leadership.epoch }
  }

  /**
   * Joins the election: leads at once when the lock is free (awaiting `lead`), follows otherwise
   * (state loaded, refresh on the leader's commits) and leads later when the lock comes.
   */
  async start(lead: () => Promise<Record<string, number>>): Promise<void> {
    this.lead = lead
    await this.leadership.start()
    await this.serialise(async () => {
      if (this.leadership.role === 'leader' || this.stopped) return
      // Listening first: a commit made while the first refresh reads is not missed.
      this.stopFeed = await this.feed.onCommit(() => this.refresh())
      await this.refresh()
      this.deps.log.info('following', { replica: this.deps.id, epoch: this.leadership.epoch })
    })
  }

  /** Stops taking inputs and leaves the election (the lock is released with its session). */
  async stop(): Promise<void> {
    this.stopped = true
    this.quiet.stop()
    this.fullTimer?.cancel()
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
   * A follower's refresh after the leader's commits: the full one when the last is old enough
   * (`FULL_REFRESH_MS`, or four times what the last one took, whichever is longer: reloading a
   * large fleet takes at most a fifth of this process's time), with the known hosts and retired
   * records every `EVERYTHING_REFRESH_MS`; otherwise the quick one; then wake-ups and commit
   * listeners.
   */
  private refresh(): Promise<void> {
    // One at a time, in the order asked (the commit feed's and the timer's): an older snapshot
    // never lands after a newer one. Each caller still sees its own refresh's failure.
    const next = this.refreshes.then(() => this.refreshOnce())
    this.refreshes = next.catch(() => undefined)
    return next
  }

  private async refreshOnce(): Promise<void> {
    // A leader's state is its mutator's alone.
    if (this.port.leading) return
    const started = systemClock.monotonicMs()
    const { state, store, restore } = this.deps
    const kind = started >= this.nextFullAt ? 'full' : 'quick'
    if (kind === 'full') {
      const everything = started >= this.nextEverythingAt
      if (everything) this.nextEverythingAt = started + EVERYTHING_REFRESH_MS
      await refreshFollowerState(state, store, restore, this.verified, everything)
      const took = systemClock.monotonicMs() - started
      this.nextFullAt = started + Math.max(FULL_REFRESH_MS, 4 * took)
    } else {
      await refreshFollowerQuick(state, store)
      // The full refresh still comes: commits keep coming, or this timer brings it.
      this.scheduleFull()
    }
    this.deps.metrics.followerRefresh.observe((systemClock.monotonicMs() - started) / 1000, {
      kind,
    })
    // Long-polls parked here for a host with a dispatch now queued.
    for (const host of state.dispatch.keys()) this.deps.hub.notify(host)
    this.port.committed()
  }

  /** A full refresh once it is due, even if the leader commits nothing more meanwhile. */
  private scheduleFull(): void {
    if (this.fullTimer !== undefined || this.stopped) return
    const wait = Math.max(0, this.nextFullAt - systemClock.monotonicMs())
    this.fullTimer = systemTimers.setTimeout(() => {
      this.fullTimer = undefined
      if (this.stopFeed !== undefined) void this.serialise(() => this.refresh())
    }, wait)
  }

  private async takeLead(epoch: number): Promise<void> {
    if (this.stopped) return
    const { mutator, store, pg, log } = this.deps
    // Inputs go to this process's mutator from now on: they queue until `lead` has loaded the
    // state and started it (the poller's first outcome, and the inputs the pump takes, among them).
    this.port.lead(mutator)
    // The heartbeats answered as a follower are applied by this replica's own mutator.
    this.quiet.stop()
    mutator.onCommit(() => this.notifier.notifyCommit())
    // The pump listens before the follower's feed stops listening: the client shares one LISTEN
    // connection and closes it with its last subscription, which a new one must not race.
    this.pump = await pumpInputs(this.queue, mutator, {
      append: (s) => store.appendStatement(s),
      sql: pg.sql,
      epoch: () => this.leadership.epoch,
      log: log.child('replica'),
    })
    await this.stopFeed?.()
    this.stopFeed = undefined
    const took = await this.lead?.()
    log.info('leading', { replica: this.deps.id, epoch, ...took })
  }
}
