/**
 * Leadership among control-plane replicas sharing one PostgreSQL (docs/control-plane.md, replicas). One replica
 * leads: the one whose dedicated session holds the advisory lock `LEADER_LOCK_KEY`. Taking the
 * lead bumps `cp_leader.epoch`; the new epoch is the fence every write transaction of the leader
 * checks first (`fenceCheck`), so a replica that lost the lead without noticing (paused, cut off)
 * cannot commit anything once another has taken over.
 *
 * Invariants:
 * - The lock lives on one reserved connection that nothing else uses; it is never returned to
 *   the pool (that would hand a locked session to other queries): `stop` closes it.
 * - While leading, the lock is re-checked every `pollMs`; a failed or slow check, a failure of
 *   the lock connection, or a lock no longer held calls `onLost` exactly once, and the replica
 *   never becomes leader again (the control plane exits non-zero: crash-only, state is rebuilt
 *   from the database by whoever leads next).
 * - Safety does not rest on noticing the loss: the fence statement takes `FOR SHARE` on the
 *   `cp_leader` row, so a new leader's epoch bump waits for an old leader's transaction in flight,
 *   and any transaction of the old leader that starts after the bump finds no row and aborts.
 * - Every query on the lock connection has a deadline.
 */
import type { ReservedSQL, SQL } from 'bun'
import { systemClock, type Clock } from '../../runtime/clock.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { systemTimers, type Timer, type Timers } from '../../runtime/timers.ts'
import { withDeadline } from './deadline.ts'
import { runStatement, type SqlStatement } from '../../db/pg/statement.ts'
import { FencedOut, fenceCheck } from '../../db/pg/fence.ts'

/** The advisory lock of the leadership ('nflt' in ASCII). */
export const LEADER_LOCK_KEY = 0x6e_66_6c_74

/** How often a follower tries the lock, and a leader checks it still holds it. */
export const LEADER_POLL_MS = 1000

// The server closes the lock session of a replica whose host vanished only when TCP says the
// peer is gone; without keepalives that can take hours, and no other replica could lead.
// These bound it to about idle + interval × count = 6 s.
const KEEPALIVES = [
  'SET tcp_keepalives_idle = 3',
  'SET tcp_keepalives_interval = 1',
  'SET tcp_keepalives_count = 3',
]

/** A replica's role. */
export type ReplicaRole = 'leader' | 'follower'

/** Why a replica stopped leading (or could not go on trying). */
export class LeadershipLost extends Error {
  override readonly name = 'LeadershipLost'
}

/** What `Leadership` needs. */
export type LeadershipOptions = {
  /** The pool; one connection of it is reserved for the lock for as long as this runs. */
  readonly sql: SQL
  /** This replica's id (`--replica-id`), recorded as `cp_leader.holder`. */
  readonly id: string
  readonly pollMs?: number
  /** A query on the lock connection slower than this counts as a lost connection. */
  readonly queryTimeoutMs?: number
  readonly clock?: Clock
  readonly timers?: Timers
  /** Called once this replica leads, with its fence epoch. */
  readonly onLead: (epoch: number) => void
  /** Called at most once, when the lead (or the lock connection) is lost; the process should exit. */
  readonly onLost: (error: Error) => void
}

type LockRow = { locked?: unknown; epoch?: unknown }

/** One replica's part in the election. */
export class Leadership {
  readonly id: string
  private currentRole: ReplicaRole = 'follower'
  private currentEpoch = 0
  private conn: ReservedSQL | undefined
  private running: Promise<void> | undefined
  private stopped = false
  private wake: (() => void) | undefined
  private timer: Timer | undefined
  private readonly pollMs: number
  private readonly queryTimeoutMs: number
  private readonly clock: Clock
  private readonly timers: Timers

  constructor(private readonly opts: LeadershipOptions) {
    this.id = opts.id
    this.pollMs = opts.pollMs ?? LEADER_POLL_MS
    this.queryTimeoutMs = opts.queryTimeoutMs ?? Math.max(5_000, 5 * this.pollMs)
    this.clock = opts.clock ?? systemClock
    this.timers = opts.timers ?? systemTimers
  }

  /** 'leader' once `onLead` was called, until the lead is lost or `stop`. */
  get role(): ReplicaRole {
    return this.currentRole
  }

  /** The fence while leading; on a follower, the leader's epoch as last seen (0 before). */
  get epoch(): number {
    return this.currentEpoch
  }

  /** The fence check for this replica's epoch; throws unless it leads. */
  fenceCheckSql(): SqlStatement {
    if (this.currentRole !== 'leader') throw new FencedOut(this.currentEpoch)
    return fenceCheck(this.currentEpoch)
  }

  /**
   * Reserves the lock connection and makes the first attempt at the lock (so `role` is known
   * when this resolves); then polls in the background. Rejects when the connection cannot be
   * had or the first attempt fails.
   */
  async start(): Promise<void> {
    if (this.conn !== undefined || this.stopped) throw new Error('Leadership already started')
    const conn = await withDeadline(
      this.timers,
      this.queryTimeoutMs,
      'reserving the leader lock connection',
      this.opts.sql.reserve()
    )
    this.conn = conn
    try {
      for (const s of KEEPALIVES) await this.query(s, [])
      await this.attempt()
    } catch (e) {
      await this.closeConnection()
      throw e
    }
    this.running = this.loop()
  }

  /** Stops polling and ends the lock session (releasing the lock); `onLost` is not called. */
  async stop(): Promise<void> {
    this.stopped = true
    this.timer?.cancel()
    this.wake?.()
    await this.running
    this.currentRole = 'follower'
    await this.closeConnection()
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        await this.pause()
        if (this.stopped) return
        await this.attempt()
      }
    } catch (e) {
      if (this.stopped) return
      this.stopped = true
      this.currentRole = 'follower'
      await this.closeConnection()
      const cause = e instanceof Error ? e.message : String(e)
      this.opts.onLost(new LeadershipLost(`leader lock lost: ${cause}`, { cause: e }))
    }
  }

  /** A follower tries the lock (taking the lead when it gets it); a leader checks it holds it. */
  private async attempt(): Promise<void> {
    if (this.currentRole === 'leader') {
      const [row] = await this.query(
        `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
           AND classid = 0 AND objid = $1::bigint::oid AND objsubid = 1 AND granted) AS held`,
        [LEADER_LOCK_KEY]
      )
      if (row?.held !== true) throw new Error('the advisory lock is no longer held')
      return
    }
    const [row] = await this.query(
      'SELECT pg_try_advisory_lock($1::bigint) AS locked, (SELECT epoch FROM cp_leader WHERE id = 1) AS epoch',
      [LEADER_LOCK_KEY]
    )
    const r: LockRow = row ?? {}
    if (r.epoch !== null && r.epoch !== undefined) this.currentEpoch = Number(r.epoch)
    if (r.locked !== true) return
    const [bumped] = await this.query(
      'UPDATE cp_leader SET epoch = epoch + 1, holder = $1, since = $2 WHERE id = 1 RETURNING epoch',
      [this.id, toRfc3339(this.clock.now())]
    )
    if (bumped === undefined) throw new Error('cp_leader has no row (migrations not applied?)')
    this.currentEpoch = Number(bumped.epoch)
    this.currentRole = 'leader'
    this.opts.onLead(this.currentEpoch)
  }

  private async query(text: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    const conn = this.conn
    if (conn === undefined) throw new Error('the leader lock connection is closed')
    return await withDeadline(
      this.timers,
      this.queryTimeoutMs,
      'a query on the leader lock connection',
      runStatement(conn, { text, params })
    )
  }

  /** Waits `pollMs`, or less when `stop` is called. */
  private async pause(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>()
    this.wake = resolve
    this.timer = this.timers.setTimeout(resolve, this.pollMs)
    await promise
    this.timer.cancel()
    this.wake = undefined
  }

  private async closeConnection(): Promise<void> {
    const conn = this.conn
    this.conn = undefined
    // close, never release: a released session would go back to the pool still holding the lock.
    await conn?.close().catch(() => undefined)
  }
}
