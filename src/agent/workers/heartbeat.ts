/**
 * The heartbeat worker and the boot-recovery handshake (spec runtime.md §6.3, §6.7; protocol
 * §10.3; DECISIONS §3.9). Every minute the agent tells the CP what it runs and where it is:
 * current closure, active rollout, agent version, uptime, the last seq of each rollout, and
 * the additive anti-rollback and refusal facts. The reply's bootstrap snapshots (sent while
 * the agent names no rollout) and `X-Nixfleet-Replay-From` become mutator inputs.
 * A switch (activation completed or rolled back) beats at once (`kick`), not at the interval.
 * Invariant: a heartbeat failure never stops the agent; it is retried with backoff and shows
 * as a stale `last heartbeat` metric.
 */
import { toRfc3339 } from '../../proto/common.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import {
  type AgentClient,
  type ClientResult,
  type HeartbeatBody,
  type HeartbeatReply,
  describeClientError,
} from '../cp-client.ts'
import { readCurrentClosure } from '../activation.ts'
import { M, type Metrics } from '../metrics.ts'
import type { Refusal } from '../manifests/artifacts.ts'
import type { HostProblem } from '../problems.ts'
import type { AgentInput } from '../mutator/inputs.ts'
import { Backoff, sleep } from '../timing.ts'

// Heartbeat deadline: 10 s (reference). The CP answers after one reducer round trip (≤ 5 s).
const HEARTBEAT_TIMEOUT_MS = 10_000
// The boot handshake waits longer (reference 30 s): a CP starting at the same time as the host.
export const BOOT_HEARTBEAT_TIMEOUT_MS = 30_000
// First retry 5 s after a failure (reference), doubling to the backoff cap.
const BACKOFF_BASE_MS = 5_000

/** What the heartbeat reads from the rest of the agent. */
export type HeartbeatDeps = {
  readonly client: AgentClient
  readonly machineId: string
  readonly version: string
  readonly currentSystem: string
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Metrics
  readonly intervalMs: number
  readonly backoffMaxMs: number
  readonly activeRolloutId: () => string | undefined
  readonly lastSeqByRollout: () => Record<string, number>
  readonly reanchoredAt: () => number | null
  readonly lastRefusal: () => (Refusal & { at: number }) | undefined
  /** The host's oldest open problem (a full state directory), if any. */
  readonly localProblem?: () => HostProblem | undefined
  /** The closure realised ahead of its dispatch (`--prefetch`), if any. */
  readonly prefetched?: () => string | undefined
  /** Hands an input to the mutator (false when its queue is full). */
  readonly submit: (input: AgentInput) => boolean
}

/** The heartbeat worker. */
export class HeartbeatWorker {
  private readonly startedMono: number
  private readonly backoff: Backoff
  private failingLogged = false
  // Aborted by `kick`: the wait for the next beat ends at once (then a fresh one is armed).
  private wake = new AbortController()

  constructor(private readonly deps: HeartbeatDeps) {
    this.startedMono = deps.clock.monotonicMs()
    this.backoff = new Backoff(BACKOFF_BASE_MS, deps.backoffMaxMs)
  }

  /** The heartbeat body; `rolloutId` null asks the CP for bootstrap snapshots. */
  body(rolloutId: string | null): HeartbeatBody {
    const refusal = this.deps.lastRefusal()
    const reanchored = this.deps.reanchoredAt()
    const problem = this.deps.localProblem?.()
    const prefetched = this.deps.prefetched?.()
    return {
      hostname: this.deps.machineId,
      rollout_id: rolloutId,
      current_closure: readCurrentClosure(this.deps.currentSystem) ?? null,
      at: toRfc3339(this.deps.clock.now()),
      agent_version: this.deps.version,
      uptime_secs: Math.floor((this.deps.clock.monotonicMs() - this.startedMono) / 1000),
      last_event_seq_by_rollout: this.deps.lastSeqByRollout(),
      reanchored_at: reanchored === null ? null : toRfc3339(reanchored),
      last_refusal: refusal
        ? {
            rollout_id: refusal.rolloutId,
            kind: refusal.kind,
            message: refusal.message,
            at: toRfc3339(refusal.at),
          }
        : null,
      ...(problem
        ? {
            local_problem: {
              worker: problem.worker,
              code: problem.code,
              message: problem.message,
              since: toRfc3339(problem.since),
            },
          }
        : {}),
      ...(prefetched !== undefined ? { prefetched_closure: prefetched } : {}),
    }
  }

  /** Sends one heartbeat and turns the reply into mutator inputs. */
  async beat(
    rolloutId: string | null,
    opts: { timeoutMs?: number; signal?: AbortSignal } = {}
  ): Promise<ClientResult<HeartbeatReply>> {
    const r = await this.deps.client.heartbeat(this.body(rolloutId), {
      timeoutMs: opts.timeoutMs ?? HEARTBEAT_TIMEOUT_MS,
      signal: opts.signal,
    })
    if (!r.ok) {
      this.deps.metrics.inc(M.heartbeatFailures, 'Heartbeats that failed.')
      return r
    }
    this.deps.metrics.set(
      M.lastHeartbeat,
      'Unix time of the last heartbeat the control plane accepted.',
      Math.floor(this.deps.clock.now() / 1000)
    )
    const snapshots = r.value.response.bootstrap_rollouts ?? []
    if (snapshots.length > 0) {
      const current = readCurrentClosure(this.deps.currentSystem)
      if (!this.deps.submit({ type: 'Bootstrap', snapshots, currentClosure: current })) {
        this.deps.log.warn('bootstrap snapshots dropped: mutator queue full')
      }
    }
    const replays = new Map<string, number>(
      Object.entries(r.value.response.replay_from_by_rollout ?? {})
    )
    if (r.value.replayFrom !== undefined && rolloutId !== null)
      replays.set(rolloutId, r.value.replayFrom)
    for (const [id, after] of replays)
      this.deps.submit({ type: 'ReplayFrom', rolloutId: id, after })
    return r
  }

  /**
   * Beats now rather than at the end of the interval: called after a switch (activation
   * completed or rolled back), so the CP sees the new closure at once. A kick during a beat
   * makes the next one follow it at once.
   */
  kick(): void {
    this.wake.abort()
  }

  /** Waits for the next beat: `ms`, or less if kicked. */
  private async pause(ms: number, signal: AbortSignal): Promise<void> {
    await sleep(ms, AbortSignal.any([signal, this.wake.signal]))
    if (this.wake.signal.aborted) this.wake = new AbortController()
  }

  /** Beats every interval until `signal` aborts; backs off while the CP is unreachable. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const r = await this.beat(this.deps.activeRolloutId() ?? null, { signal })
      if (signal.aborted) break
      if (r.ok) {
        this.backoff.reset()
        if (this.failingLogged) {
          this.failingLogged = false
          this.deps.log.info('heartbeat recovered')
        }
        await this.pause(this.deps.intervalMs, signal)
        continue
      }
      // A configuration error (TLS names) is an error to fix, retried once per interval.
      const config = r.error.kind === 'config'
      if (!this.failingLogged) {
        this.failingLogged = true
        this.deps.log[config ? 'error' : 'warn']('heartbeat failed', {
          reason: describeClientError(r.error),
        })
      }
      await this.pause(
        config ? this.deps.intervalMs : Math.min(this.deps.intervalMs, this.backoff.next()),
        signal
      )
    }
  }
}
