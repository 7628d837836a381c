/**
 * The pre-fetch worker (`--prefetch`): as soon as the verified manifest of the host's channel
 * names a target closure the host does not run, it is realised in the background
 * (`nix-store --realise`, no switch) at the lowest CPU and I/O priority available (`nice`,
 * `ionice -c 3`), so that when the host's wave opens the switch is short and a cache outage
 * after publication does not stall the rollout. The heartbeat reports the closure
 * (`prefetched_closure`), the CP shows it and records whether it came before the dispatch.
 *
 * Invariants: one realise at a time; a target is fetched once (a failure is retried after
 * `retryMs`, not in a loop); nothing here switches, touches the profile or the records; the
 * realise is bounded by the activation's realise timeout; off unless configured.
 */
import type { Logger } from '../../runtime/log.ts'
import { runCommand, tail } from '../exec.ts'
import { M, type Metrics } from '../metrics.ts'
import { sleep } from '../timing.ts'

/** What the worker reads and runs. */
export type PrefetchDeps = {
  /** This host's target in the verified manifest of its channel, if any. */
  readonly target: () => string | undefined
  readonly currentClosure: () => string | undefined
  readonly nixStore: string
  readonly nixStoreDir: string
  readonly realiseTimeoutMs: number
  readonly intervalMs: number
  readonly retryMs: number
  readonly monotonicMs: () => number
  /** Told of each closure fetched (the heartbeat goes out at once). */
  readonly onPrefetched: (closure: string) => void
  readonly log: Logger
  readonly metrics: Metrics
}

/** The low-priority prefix available on this system: `nice -n 19`, `ionice -c 3`. */
export function lowPriority(which: (cmd: string) => string | null = Bun.which): string[] {
  const out: string[] = []
  const nice = which('nice')
  if (nice !== null) out.push(nice, '-n', '19')
  const ionice = which('ionice')
  if (ionice !== null) out.push(ionice, '-c', '3')
  return out
}

/** The pre-fetch worker. */
export class PrefetchWorker {
  private fetched: string | undefined
  private failed: { closure: string; at: number } | undefined

  constructor(private readonly deps: PrefetchDeps) {
    deps.metrics.declare(
      M.prefetches,
      'counter',
      'Closures realised ahead of their dispatch, by outcome.'
    )
  }

  /** The last closure fetched ahead of its dispatch (reported in heartbeats). */
  get prefetched(): string | undefined {
    return this.fetched
  }

  /** Fetches the next target if one is due; true when it ran a realise. */
  async once(signal?: AbortSignal): Promise<boolean> {
    const d = this.deps
    const target = d.target()
    if (target === undefined || target === this.fetched || target === d.currentClosure())
      return false
    if (this.failed?.closure === target && d.monotonicMs() - this.failed.at < d.retryMs)
      return false
    const started = d.monotonicMs()
    const r = await runCommand(
      [...lowPriority(), d.nixStore, '--realise', `${d.nixStoreDir}/${target}`],
      { timeoutMs: d.realiseTimeoutMs, signal }
    )
    if (r.exitCode === 0) {
      this.fetched = target
      this.failed = undefined
      d.metrics.inc(M.prefetches, 'Closures realised ahead of their dispatch, by outcome.', {
        outcome: 'ok',
      })
      d.log.info('closure prefetched', { closure: target, ms: d.monotonicMs() - started })
      d.onPrefetched(target)
    } else {
      this.failed = { closure: target, at: d.monotonicMs() }
      d.metrics.inc(M.prefetches, 'Closures realised ahead of their dispatch, by outcome.', {
        outcome: 'failed',
      })
      d.log.warn('prefetch failed; the activation will realise it when dispatched', {
        closure: target,
        error: r.spawnError ?? tail(r.stderr, 3, 500),
      })
    }
    return true
  }

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.once(signal)
      await sleep(this.deps.intervalMs, signal)
    }
  }
}
