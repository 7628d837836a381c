/**
 * The dispatch long-poll worker (protocol §10.2): `GET /v1/agent/dispatch?wait=60` in a loop; a
 * dispatch is checked against the signed release (`ManifestCache.acceptDispatch`) and only then
 * submitted to the mutator. A refusal is logged, counted, and remembered for the heartbeat.
 *
 * Invariants:
 * - No dispatch reaches the mutator unverified; an accepted one is never dropped while the
 *   agent runs (it waits for room in the queue).
 * - Errors back off (capped, jittered) and are logged once until the poll recovers; 204 (no
 *   dispatch) polls again at once.
 */
import type { Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import { type AgentClient, describeClientError } from '../cp-client.ts'
import type { Refusal } from '../manifests/artifacts.ts'
import type { ManifestCache } from '../manifests/cache.ts'
import { M, type Metrics } from '../metrics.ts'
import type { AgentInput } from '../mutator/inputs.ts'
import { Backoff, sleep } from '../timing.ts'
import { labelWord } from '../../runtime/prometheus.ts'

// The long-poll request deadline is the hold time plus this slack (reference: wait 60, 65 s).
const LONG_POLL_SLACK_MS = 5_000
// First dispatch retry after 1 s, doubling to the configured cap (60 s by default).
const BACKOFF_BASE_MS = 1_000

/** A refusal and when it happened (reported in heartbeats). */
export type TimedRefusal = Refusal & { readonly at: number }

/** What the worker uses. */
export type DispatchPollDeps = {
  readonly client: AgentClient
  readonly manifests: Pick<ManifestCache, 'acceptDispatch'>
  readonly waitSecs: number
  readonly backoffMaxMs: number
  /** The closure the current-system link names now (the dispatch's rollback target). */
  readonly currentClosure: () => string | undefined
  readonly submit: (input: AgentInput<'Dispatch'>) => Promise<unknown>
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Metrics
}

/** Long-polls for dispatches. */
export class DispatchPoller {
  private refusal: TimedRefusal | undefined

  constructor(private readonly deps: DispatchPollDeps) {}

  /** The last refusal since the last accepted dispatch. */
  get lastRefusal(): TimedRefusal | undefined {
    return this.refusal
  }

  private refuse(refusal: Refusal): void {
    this.refusal = { ...refusal, at: this.deps.clock.now() }
    this.deps.metrics.inc(M.dispatchRefusals, 'Dispatches refused, by reason.', {
      kind: labelWord(refusal.kind),
    })
    this.deps.log.warn('dispatch refused', {
      rolloutId: refusal.rolloutId,
      kind: refusal.kind,
      reason: refusal.message,
    })
  }

  /** Polls until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { client, waitSecs, log } = this.deps
    const backoff = new Backoff(BACKOFF_BASE_MS, this.deps.backoffMaxMs)
    let warned = false
    while (!signal.aborted) {
      const res = await client.pollDispatch(waitSecs, {
        timeoutMs: waitSecs * 1000 + LONG_POLL_SLACK_MS,
        signal,
      })
      if (signal.aborted) break
      if (!res.ok) {
        // A configuration error (TLS names) is an error to fix, retried at the backoff cap.
        const config = res.error.kind === 'config'
        if (!warned)
          log[config ? 'error' : 'warn']('dispatch poll failed', {
            reason: describeClientError(res.error),
          })
        warned = true
        await sleep(config ? this.deps.backoffMaxMs : backoff.next(), signal)
        continue
      }
      if (warned) log.info('dispatch poll recovered')
      warned = false
      backoff.reset()
      if (res.value === null) continue
      log.info('dispatch received', {
        rolloutId: res.value.rollout_id,
        target: res.value.target_closure,
      })
      const acc = await this.deps.manifests.acceptDispatch(res.value, signal)
      if (signal.aborted) break
      if (!acc.ok) {
        this.refuse(acc.refusal)
        continue
      }
      this.refusal = undefined
      await this.deps.submit({
        type: 'Dispatch',
        accepted: acc.value,
        receivedAt: this.deps.clock.now(),
        prior: this.deps.currentClosure(),
      })
    }
  }
}
