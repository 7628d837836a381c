/**
 * A follower's own answer to the heartbeats that carry no news (docs/control-plane.md, replicas).
 * Most of a fleet's heartbeats repeat, interval after interval, what the host said last: the
 * same closure, the same event seqs, no problem. Sending each through PostgreSQL to the leader's
 * single mutator and back made the leader the bottleneck of every replica's heartbeats. A
 * follower answers such a heartbeat itself, from the state it follows, and sends it to the leader
 * later with the others of the moment (`HeartbeatBatch`), where each is applied as if it had come
 * alone (last-seen, synthesis).
 * Invariants:
 * - A heartbeat is answered here only when the leader already answered one with the same news
 *   from this host through this follower (`acknowledged`), the host has no queued dispatch and
 *   no unfinished rollout record but ones waiting for their wave (Pending) short of their target,
 *   which the leader would synthesize nothing from, in the followed state; and the answer is
 *   the one the leader would give from that state (`heartbeatReply`). Anything else goes to the
 *   leader.
 * - Every heartbeat answered here reaches the leader: the batch is sent every `flushMs` or when
 *   `maxBatch` hosts wait, keeping each host's latest heartbeat only. A batch the leader cannot
 *   take (its queue full, a failover) is dropped; the next one carries newer heartbeats.
 */
import { heartbeatSynthesis, isUnfinished } from '../../core/index.ts'
import type { HeartbeatRequest } from '../../proto/agent.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import type { Timer, Timers } from '../../runtime/timers.ts'
import { heartbeatReply, heartbeatSeen } from '../mutator/heartbeat.ts'
import type { HeartbeatBatchItem, HeartbeatReply, InputOf } from '../mutator/inputs.ts'
import type { CpState } from '../state.ts'
import type { MutatorPort } from './mutator-port.ts'

/** How often a follower sends the heartbeats it answered (the leader's last-seen lags by this). */
export const HEARTBEAT_FLUSH_MS = 2_000
/** The most heartbeats in one batch (one row of `cp_inputs`, a few hundred KiB at most). */
export const HEARTBEAT_MAX_BATCH = 1_000

/** What `QuietHeartbeats` needs. */
export type QuietHeartbeatsDeps = {
  readonly state: CpState
  /** Where batches go: the replica's port (the leader through PostgreSQL, or its own mutator). */
  readonly port: MutatorPort
  readonly clock: Clock
  readonly timers: Timers
  readonly log: Logger
  readonly flushMs?: number
  readonly maxBatch?: number
}

/** What a heartbeat says besides the time: equal keys, nothing new for the leader. */
function newsOf(input: InputOf<'Heartbeat'>): string {
  const r = input.request
  return JSON.stringify([
    r.current_closure ?? null,
    r.rollout_id ?? null,
    r.last_event_seq_by_rollout ?? null,
    r.local_problem ?? null,
    r.last_refusal ?? null,
    r.reanchored_at ?? null,
    r.prefetched_closure ?? null,
    input.cert?.serial ?? null,
  ])
}

/** A follower's heartbeats without news: answered here, sent to the leader in batches. */
export class QuietHeartbeats {
  // The news of each host's last heartbeat the leader answered through this follower.
  private readonly acked = new Map<string, string>()
  private pending = new Map<string, HeartbeatBatchItem>()
  private timer: Timer | undefined
  private stopped = false
  private readonly flushMs: number
  private readonly maxBatch: number

  constructor(private readonly deps: QuietHeartbeatsDeps) {
    this.flushMs = deps.flushMs ?? HEARTBEAT_FLUSH_MS
    this.maxBatch = deps.maxBatch ?? HEARTBEAT_MAX_BATCH
  }

  /** Heartbeats answered here and not sent to the leader yet. */
  get waiting(): number {
    return this.pending.size
  }

  /** The answer to a heartbeat with no news, or `undefined`: the leader must see it now. */
  answer(input: InputOf<'Heartbeat'>): HeartbeatReply | undefined {
    if (this.stopped) return undefined
    const { state } = this.deps
    const req = input.request
    const host = req.hostname as string
    if (this.acked.get(host) !== newsOf(input)) return undefined
    if (state.nextDispatch(host) !== undefined) return undefined
    const seen = heartbeatSeen(req, this.deps.clock.now())
    for (const rolloutId of state.byHost.get(host) ?? []) {
      const rec = state.host(rolloutId, host)
      if (rec === undefined || !isUnfinished(rec.phase)) continue
      // Waiting for its wave and not at its target: the leader would do nothing with it.
      if (rec.phase !== 'Pending') return undefined
      if (heartbeatSynthesis(rec, seen, seen.at, undefined).type !== 'none') return undefined
    }
    const reply = heartbeatReply(state, req)
    if (reply.replayFrom !== null || Object.keys(reply.replayFromByRollout).length > 0)
      return undefined
    // This follower's own view of its hosts (the hosts view, problems) stays current.
    state.heartbeats.set(host, seen)
    this.pending.delete(host)
    this.pending.set(host, { request: req, cert: input.cert })
    if (this.pending.size >= this.maxBatch) this.flush()
    else this.timer ??= this.deps.timers.setTimeout(() => this.flush(), this.flushMs)
    return reply
  }

  /** The leader answered `input`: later heartbeats with the same news can be answered here. */
  acknowledged(input: InputOf<'Heartbeat'>): void {
    const req: HeartbeatRequest = input.request
    const host = req.hostname as string
    this.acked.set(host, newsOf(input))
    this.deps.state.heartbeats.set(host, heartbeatSeen(req, this.deps.clock.now()))
  }

  /** Sends the waiting heartbeats to the leader now. */
  flush(): void {
    this.timer?.cancel()
    this.timer = undefined
    if (this.pending.size === 0) return
    const items = [...this.pending.values()]
    this.pending = new Map()
    if (!this.deps.port.submit({ type: 'HeartbeatBatch', items }))
      this.deps.log.warn('heartbeat batch dropped: the leader takes no more inputs now', {
        heartbeats: items.length,
      })
  }

  /** Sends what waits and answers nothing more here. */
  stop(): void {
    this.flush()
    this.stopped = true
  }
}
