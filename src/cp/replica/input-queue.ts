/**
 * The queue of mutator inputs from followers to the leader, in PostgreSQL (`cp_inputs`,
 * docs/control-plane.md, replicas). A follower `enqueue`s an input (its row, and `NOTIFY nixfleet_input` in the
 * same statement) and `awaitReply`s; the leader `takePending`s rows in id order and records
 * each one's completion with `markDone` inside the very transaction that applies it.
 *
 * Invariants:
 * - An input is applied exactly once, even across a failover: its effects and its `done_at` /
 *   `reply` commit together in one fenced transaction, or not at all (a leader that dies before
 *   its commit leaves the row pending for the next leader); `markDone` only touches a row still
 *   pending.
 * - The `NOTIFY nixfleet_reply` of a reply is part of the statement that records it, so it is
 *   sent when (and only when) that transaction commits.
 * - Notifications only hurry things up: a waiting follower also polls its rows every `pollMs`,
 *   so a missed NOTIFY (a dropped LISTEN connection) costs latency, never a reply.
 * - Every wait for a reply ends: with the reply, or with `ReplyTimeout` at its deadline.
 */
import type { SQL } from 'bun'
import { toRfc3339 } from '../../proto/common.ts'
import { systemClock, type Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import { systemTimers, type Timer, type Timers } from '../../runtime/timers.ts'
import { withDeadline } from './deadline.ts'
import { runStatement, type SqlStatement } from '../../db/pg/statement.ts'

/** The channel a follower notifies when it queued an input. */
export const INPUT_CHANNEL = 'nixfleet_input'
/** The channel the leader notifies (payload: the input's id) when an input's reply committed. */
export const REPLY_CHANNEL = 'nixfleet_reply'
/** How often a follower polls for the replies it waits for (NOTIFY's fallback). */
export const REPLY_POLL_MS = 1000
// Replies announced before their wait: several seconds of a busy fleet's replies at 500 a second.
const HEARD_KEPT = 4096

/** Why a wait for a reply ended without one. */
export class ReplyTimeout extends Error {
  override readonly name = 'ReplyTimeout'
  constructor(
    readonly id: number,
    ms: number
  ) {
    super(`input ${id} got no reply from the leader within ${ms} ms`)
  }
}

/** A queued input the leader has not applied yet. */
export type PendingInput = {
  readonly id: number
  /** The replica that queued it. */
  readonly origin: string
  readonly kind: string
  readonly payload: string
  readonly createdAt: string
}

/** What an `InputQueue` needs. */
export type InputQueueOptions = {
  readonly sql: SQL
  /** This replica's id, recorded as each row's `origin`. */
  readonly origin: string
  readonly log: Logger
  readonly pollMs?: number
  readonly clock?: Clock
  readonly timers?: Timers
}

type Waiter = { readonly resolve: (reply: string) => void; readonly timer: Timer }

/**
 * The statement that records input `id` as applied, with its reply, and notifies its follower
 * on commit; it returns one row, none when the input was not pending.
 */
export function markDoneStatement(id: number, reply: string, doneAt: string): SqlStatement {
  return {
    text: `WITH done AS (UPDATE cp_inputs SET done_at = $2, reply = $3
             WHERE id = $1::bigint AND done_at IS NULL RETURNING id)
           SELECT pg_notify('${REPLY_CHANNEL}', id::text) FROM done`,
    params: [id, doneAt, reply],
  }
}

/** One replica's end of the input queue (follower and leader sides). */
export class InputQueue {
  private readonly waiters = new Map<number, Set<Waiter>>()
  private listening: Promise<unknown> | undefined
  private unlisten: (() => Promise<void>) | undefined
  private pollTimer: Timer | undefined
  /** Ids to look up; a lookup already running takes those added meanwhile after it. */
  private readonly toCheck = new Set<number>()
  private checking = false
  private closed = false
  /** Replies announced with no waiter yet, oldest first (see `remember`). */
  private readonly heard = new Set<number>()
  private readonly pollMs: number
  private readonly clock: Clock
  private readonly timers: Timers

  constructor(private readonly opts: InputQueueOptions) {
    this.pollMs = opts.pollMs ?? REPLY_POLL_MS
    this.clock = opts.clock ?? systemClock
    this.timers = opts.timers ?? systemTimers
  }

  /**
   * Queues an input and tells the leader; resolves with its id. Listens for replies first, so
   * no reply to it can come before this replica hears them.
   */
  async enqueue(kind: string, payload: string): Promise<number> {
    await this.listenForReplies()
    const rows = await runStatement(this.opts.sql, {
      text: `WITH queued AS (INSERT INTO cp_inputs (origin, kind, payload, created_at)
               VALUES ($1, $2, $3, $4) RETURNING id)
             SELECT id, pg_notify('${INPUT_CHANNEL}', id::text) FROM queued`,
      params: [this.opts.origin, kind, payload, toRfc3339(this.clock.now())],
    })
    const id = Number(rows[0]?.id)
    if (!Number.isSafeInteger(id)) throw new Error('queueing an input returned no id')
    return id
  }

  /** The reply to input `id` once the leader committed it; rejects with `ReplyTimeout` after `timeoutMs`. */
  awaitReply(id: number, timeoutMs: number): Promise<string> {
    if (this.closed) return Promise.reject(new Error('the input queue is closed'))
    const { promise, resolve, reject } = Promise.withResolvers<string>()
    const waiter: Waiter = {
      resolve,
      timer: this.timers.setTimeout(() => {
        this.forget(id, waiter)
        reject(new ReplyTimeout(id, timeoutMs))
      }, timeoutMs),
    }
    const set = this.waiters.get(id) ?? new Set()
    set.add(waiter)
    this.waiters.set(id, set)
    // The reply may have been announced between the insert and this wait.
    if (this.heard.delete(id)) void this.check([id])
    this.schedulePoll()
    void this.listenForReplies().catch((e) =>
      this.opts.log.warn('cannot listen for input replies; polling', { error: e })
    )
    return promise
  }

  /**
   * Notes a reply announced while no one here waits for it: most are other replicas' inputs, but
   * one of this replica's may be announced before its `awaitReply` (the insert's answer and the
   * notification race). Bounded: the oldest ids go first.
   */
  private remember(id: number): void {
    this.heard.add(id)
    if (this.heard.size > HEARD_KEPT) {
      const oldest = this.heard.values().next().value
      if (oldest !== undefined) this.heard.delete(oldest)
    }
  }

  /** Replies announced that no wait here has claimed yet (kept for a wait that comes late). */
  get unclaimed(): number {
    return this.heard.size
  }

  /** The number of inputs this replica waits on. */
  get waiting(): number {
    return this.waiters.size
  }

  /** Up to `limit` pending inputs in id order, skipping `exclude` (those already handed on). */
  async takePending(limit: number, exclude: readonly number[] = []): Promise<PendingInput[]> {
    const rows = await runStatement(this.opts.sql, {
      text: `SELECT id, origin, kind, payload, created_at FROM cp_inputs
             WHERE done_at IS NULL AND NOT (id = ANY($2::bigint[])) ORDER BY id LIMIT $1`,
      params: [limit, exclude.map(String)],
    })
    return rows.map((r) => ({
      id: Number(r.id),
      origin: String(r.origin),
      kind: String(r.kind),
      payload: String(r.payload),
      createdAt: String(r.created_at),
    }))
  }

  /** `markDoneStatement` for input `id`, done now. */
  markDoneStatement(id: number, reply: string): SqlStatement {
    return markDoneStatement(id, reply, toRfc3339(this.clock.now()))
  }

  /**
   * Records input `id` as applied with `reply`, on `tx` (the leader's fenced write transaction).
   * Throws when the input was not pending (already applied, or no such input).
   */
  async markDone(tx: SQL, id: number, reply: string): Promise<void> {
    const rows = await runStatement(tx, this.markDoneStatement(id, reply))
    if (rows.length !== 1) throw new Error(`input ${id} is not pending`)
  }

  /** Calls `listener` on each `NOTIFY nixfleet_input` (the leader's cue to take inputs). */
  async onInput(listener: () => void): Promise<() => Promise<void>> {
    const sub = await this.opts.sql.listen(INPUT_CHANNEL, () => listener(), listener)
    return () => sub.unlisten()
  }

  /** Stops listening and polling; the waits still open end with `ReplyTimeout` at their deadline. */
  async close(): Promise<void> {
    this.closed = true
    this.pollTimer?.cancel()
    this.pollTimer = undefined
    await this.listening?.catch(() => undefined)
    await this.unlisten?.()
  }

  private listenForReplies(): Promise<unknown> {
    this.listening ??= this.opts.sql
      .listen(
        REPLY_CHANNEL,
        (payload) => {
          const id = Number(payload)
          if (this.waiters.has(id)) void this.check([id])
          else this.remember(id)
        },
        // Re-subscribed after a lost connection: replies may have gone by unheard.
        () => void this.check(this.waiters.keys())
      )
      .then((sub) => {
        this.unlisten = () => sub.unlisten()
      })
      .catch((e: unknown) => {
        this.listening = undefined
        throw e
      })
    return this.listening
  }

  /** Polls every `pollMs` while anyone waits. */
  private schedulePoll(): void {
    if (this.pollTimer !== undefined || this.closed || this.waiters.size === 0) return
    this.pollTimer = this.timers.setTimeout(() => {
      this.pollTimer = undefined
      void this.check(this.waiters.keys()).finally(() => this.schedulePoll())
    }, this.pollMs)
  }

  /** Looks up the replies of `ids` and hands over those that are there. */
  private async check(ids: Iterable<number>): Promise<void> {
    for (const id of ids) this.toCheck.add(id)
    if (this.checking) return
    this.checking = true
    try {
      while (this.toCheck.size > 0) {
        const batch = [...this.toCheck].filter((id) => this.waiters.has(id))
        this.toCheck.clear()
        if (batch.length > 0) await this.lookUp(batch)
      }
    } catch (e) {
      this.opts.log.warn('looking up input replies failed; polling again', { error: e })
    } finally {
      this.checking = false
    }
  }

  private async lookUp(ids: readonly number[]): Promise<void> {
    const rows = await withDeadline(
      this.timers,
      Math.max(this.pollMs, 5_000),
      'looking up input replies',
      runStatement(this.opts.sql, {
        text: `SELECT id, reply FROM cp_inputs WHERE id = ANY($1::bigint[]) AND done_at IS NOT NULL`,
        params: [ids.map(String)],
      })
    )
    for (const r of rows) {
      const id = Number(r.id)
      const reply = typeof r.reply === 'string' ? r.reply : ''
      for (const w of this.waiters.get(id) ?? []) {
        w.timer.cancel()
        w.resolve(reply)
      }
      this.waiters.delete(id)
    }
  }

  private forget(id: number, waiter: Waiter): void {
    const set = this.waiters.get(id)
    set?.delete(waiter)
    if (set?.size === 0) this.waiters.delete(id)
  }
}
