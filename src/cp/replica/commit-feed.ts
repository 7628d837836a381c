/**
 * The leader's commits, as followers hear of them (docs/control-plane.md, replicas): the leader sends
 * `NOTIFY nixfleet_commit` after each commit (`CommitNotifier`); a follower rebuilds its
 * read-only state on it (`CommitFeed.onCommit`).
 *
 * Invariants:
 * - Notifying never slows the leader's loop down: at most one NOTIFY is in flight, and the
 *   commits made meanwhile are covered by one more sent after it (coalesced).
 * - A follower's listener runs at most once at a time, `debounceMs` after the first commit it
 *   has not covered yet; commits during the wait or the run are covered by that run or the next
 *   one. The wait is not restarted by each commit, so a leader committing without pause still
 *   gets its followers refreshed every `debounceMs` (plus the run's own time).
 * - A lost LISTEN connection is re-established (Bun re-subscribes with backoff), and the
 *   listener runs once it is back, since commits may have gone by unheard meanwhile.
 */
import type { SQL } from 'bun'
import type { Logger } from '../../runtime/log.ts'
import { systemTimers, type Timer, type Timers } from '../../runtime/timers.ts'

/** The channel of the leader's commits. */
export const COMMIT_CHANNEL = 'nixfleet_commit'
/** How long a follower lets commits gather before it refreshes. */
export const COMMIT_DEBOUNCE_MS = 250

/** The leader's side: one NOTIFY per commit, coalesced. */
export class CommitNotifier {
  private sending = false
  private again = false

  constructor(
    private readonly sql: SQL,
    private readonly log: Logger
  ) {}

  /** Tells followers that something committed (returns at once). */
  notifyCommit(): void {
    if (this.sending) {
      this.again = true
      return
    }
    this.sending = true
    void this.send()
  }

  private async send(): Promise<void> {
    do {
      this.again = false
      try {
        await this.sql.notify(COMMIT_CHANNEL, '')
      } catch (e) {
        // The followers refresh on the next commit; a leader without its database stops anyway.
        this.log.warn('could not notify followers of a commit', { error: e })
      }
    } while (this.again)
    this.sending = false
  }
}

/** What a `CommitFeed` needs. */
export type CommitFeedOptions = {
  readonly sql: SQL
  readonly log: Logger
  readonly debounceMs?: number
  readonly timers?: Timers
}

/** The follower's side: listeners run on the leader's commits. */
export class CommitFeed {
  constructor(private readonly opts: CommitFeedOptions) {}

  /**
   * Runs `listener` after the leader's commits (debounced, one run at a time); resolves once
   * listening, with the function that stops it (and waits for a run in progress).
   */
  async onCommit(listener: () => void | Promise<void>): Promise<() => Promise<void>> {
    const debounceMs = this.opts.debounceMs ?? COMMIT_DEBOUNCE_MS
    const timers = this.opts.timers ?? systemTimers
    let timer: Timer | undefined
    let running: Promise<void> | undefined
    let dirty = false
    let stopped = false
    let subscribed = false

    const run = async (): Promise<void> => {
      try {
        await listener()
      } catch (e) {
        this.opts.log.warn('refreshing after a commit failed; the next commit retries', {
          error: e,
        })
      }
    }
    const trigger = (): void => {
      if (stopped || timer !== undefined) return
      if (running !== undefined) {
        dirty = true
        return
      }
      timer = timers.setTimeout(() => {
        timer = undefined
        if (stopped) return
        running = run().finally(() => {
          running = undefined
          if (dirty) {
            dirty = false
            trigger()
          }
        })
      }, debounceMs)
    }
    const sub = await this.opts.sql.listen(COMMIT_CHANNEL, trigger, () => {
      // The first acknowledgement starts the feed; any later one follows a lost connection.
      if (subscribed) trigger()
      subscribed = true
    })
    return async () => {
      stopped = true
      timer?.cancel()
      await sub.unlisten()
      await running
    }
  }
}
