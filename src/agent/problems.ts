/**
 * The host's own problems (a full or read-only state directory, a worker that threw): each is
 * logged as a structured error, counted in `nixfleet_agent_worker_errors_total{worker,code}`,
 * and kept while it lasts so the heartbeat reports it to the CP (`local_problem`). A host whose
 * disk is full keeps heartbeating; without this it would look healthy while it cannot work.
 *
 * Invariant: a problem is cleared only when its worker runs again (after its backoff) and,
 * for a file-system error, only once a probe write to the state directory succeeds.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from '../runtime/clock.ts'
import { errnoOf, fsReason, writeFileDurable } from '../runtime/durable-fs.ts'
import type { Logger } from '../runtime/log.ts'
import { M, type Metrics } from './metrics.ts'
import { Backoff, sleep } from './timing.ts'

/** One open problem. */
export type HostProblem = {
  readonly worker: string
  /** The errno code (`ENOSPC`, `EROFS`, …), or null for another error. */
  readonly code: string | null
  readonly message: string
  readonly since: number
}

// The message reaches the CP: one line, short.
const MAX_MESSAGE_CHARS = 300
// First retry of a failed worker after 1 s, doubling to the agent's backoff cap.
const BACKOFF_BASE_MS = 1_000

/** What the registry uses. */
export type HostProblemsDeps = {
  readonly stateDir: string
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Metrics
}

/** The open problems of this host, by worker. */
export class HostProblems {
  private readonly open = new Map<string, HostProblem>()

  constructor(private readonly deps: HostProblemsDeps) {}

  /** Records that `worker` failed with `error`: logged, counted, kept until `ok(worker)`. */
  failed(worker: string, error: unknown): void {
    const code = errnoOf(error) ?? null
    const text = error instanceof Error ? error.message : String(error)
    const message = (code !== null ? `${fsReason(error)}: ${text}` : text)
      .split('\n')[0]!
      .slice(0, MAX_MESSAGE_CHARS)
    this.deps.metrics.inc(M.workerErrors, 'Worker errors (retried after a backoff), by code.', {
      worker,
      code: code ?? 'other',
    })
    this.deps.log.error('worker error; retrying after a backoff', { worker, code, error: message })
    const since = this.open.get(worker)?.since ?? this.deps.clock.now()
    this.open.set(worker, { worker, code, message, since })
  }

  /** `worker` works again. */
  ok(worker: string): void {
    const p = this.open.get(worker)
    if (!p) return
    this.open.delete(worker)
    this.deps.log.info('worker recovered', { worker, code: p.code })
  }

  /** The oldest open problem, if any (reported in heartbeats). */
  current(): HostProblem | undefined {
    let oldest: HostProblem | undefined
    for (const p of this.open.values()) if (!oldest || p.since < oldest.since) oldest = p
    return oldest
  }

  /** Whether a small durable write to the state directory succeeds now. */
  stateDirWritable(): boolean {
    const probe = join(this.deps.stateDir, '.write-probe')
    try {
      writeFileDurable(probe, 'ok\n')
      rmSync(probe, { force: true })
      return true
    } catch {
      return false
    }
  }

  /**
   * Runs a worker loop until `signal` aborts; when it throws, the error is recorded, and the
   * loop runs again after a capped backoff (for a file-system error, once the state directory
   * takes writes again). No worker loop ends on an error.
   */
  async supervise(
    worker: string,
    run: (signal: AbortSignal) => Promise<unknown>,
    backoffMaxMs: number,
    signal: AbortSignal
  ): Promise<void> {
    const backoff = new Backoff(BACKOFF_BASE_MS, backoffMaxMs)
    while (!signal.aborted) {
      try {
        await run(signal)
        return
      } catch (e) {
        if (signal.aborted) return
        this.failed(worker, e)
        const io = errnoOf(e) !== undefined
        do await sleep(backoff.next(), signal)
        while (!signal.aborted && io && !this.stateDirWritable())
        this.ok(worker)
      }
    }
  }
}
