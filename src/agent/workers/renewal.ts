/**
 * The certificate renewal worker (protocol §7.4, DECISIONS §5): every minute, when less than
 * `renewal-threshold-fraction` of the certificate's lifetime is left, a new CSR from the same
 * key goes to `/v1/agent/renew` over the current mTLS identity; the new certificate is written
 * atomically and used by the next request. A failed renewal is retried with backoff and never
 * stops the agent (the current certificate stays in use until it expires).
 *
 * Invariant: a host clock that disagrees with the CP's never makes renewal run in a loop. A
 * certificate just issued (notBefore = the CP's now) that is already due by the host clock
 * proves the clock wrong: that is logged as an error naming both times, and from then on the
 * next renewal is due after the same share of the lifetime has passed on the monotonic clock.
 */
import { toRfc3339 } from '../../proto/common.ts'
import type { Clock } from '../../runtime/clock.ts'
import { writeFileDurable } from '../../runtime/durable-fs.ts'
import type { Logger } from '../../runtime/log.ts'
import { type AgentClient, describeClientError } from '../cp-client.ts'
import { hostCsrPem } from '../csr.ts'
import { CERT_REQUEST_TIMEOUT_MS } from '../enroll.ts'
import { type AgentIdentity, remainingFraction } from '../identity.ts'
import { M, type Metrics } from '../metrics.ts'
import { Backoff, sleep } from '../timing.ts'

// After a failed renewal, retry 30 s later (reference), doubling up to the check interval.
const RENEW_BACKOFF_BASE_MS = 30_000

/** Renews the certificate when its remaining lifetime drops below the threshold. */
export class RenewalWorker {
  private readonly backoff: Backoff
  /** Set after a renewal that the host clock misjudges: when, on the monotonic clock. */
  private skewedRenewal: { readonly atMono: number; readonly lifeMs: number } | undefined

  constructor(
    private readonly deps: {
      readonly client: AgentClient
      readonly identity: AgentIdentity
      readonly machineId: string
      readonly certPath: string
      readonly thresholdFraction: number
      readonly checkMs: number
      readonly clock: Clock
      readonly log: Logger
      readonly metrics: Metrics
    }
  ) {
    this.backoff = new Backoff(RENEW_BACKOFF_BASE_MS, Math.max(RENEW_BACKOFF_BASE_MS, deps.checkMs))
  }

  /** Whether the certificate is due for renewal at `now`. */
  due(now: number): boolean {
    const validity = this.deps.identity.certValidity
    const skewed = this.skewedRenewal
    if (skewed !== undefined) {
      const elapsed = this.deps.clock.monotonicMs() - skewed.atMono
      return elapsed >= (1 - this.deps.thresholdFraction) * skewed.lifeMs
    }
    return validity !== undefined && remainingFraction(validity, now) < this.deps.thresholdFraction
  }

  /** Notices a host clock that judges a certificate issued just now as due already. */
  private checkClock(validity: { notBeforeMs: number; notAfterMs: number }): void {
    const now = this.deps.clock.now()
    this.skewedRenewal = undefined
    if (remainingFraction(validity, now) >= this.deps.thresholdFraction) return
    this.skewedRenewal = {
      atMono: this.deps.clock.monotonicMs(),
      lifeMs: validity.notAfterMs - validity.notBeforeMs,
    }
    const days = Math.round((now - validity.notBeforeMs) / 86_400_000)
    this.deps.log.error(
      'host clock is wrong: a certificate issued just now is already due for renewal by it; renewal now waits on elapsed time — fix the host clock (NTP)',
      {
        hostClock: toRfc3339(now),
        certNotBefore: toRfc3339(validity.notBeforeMs),
        certNotAfter: toRfc3339(validity.notAfterMs),
        aheadDays: days,
      }
    )
  }

  /** Renews once; true on success. */
  async renewNow(signal?: AbortSignal): Promise<boolean> {
    const csrPem = hostCsrPem(this.deps.identity.key.seed, this.deps.machineId)
    const r = await this.deps.client.renew(
      { csrPem },
      { timeoutMs: CERT_REQUEST_TIMEOUT_MS, signal }
    )
    if (!r.ok) {
      this.deps.metrics.inc(M.renewals, 'Certificate renewals, by outcome.', { outcome: 'failed' })
      this.deps.log.warn('certificate renewal failed', { reason: describeClientError(r.error) })
      return false
    }
    try {
      const validity = this.deps.identity.setCertificate(r.value.certPem, 'renewed certificate')
      writeFileDurable(this.deps.certPath, r.value.certPem, 0o644)
      this.checkClock(validity)
      this.deps.metrics.set(
        M.certNotAfter,
        'Expiry (Unix time) of the client certificate.',
        Math.floor(validity.notAfterMs / 1000)
      )
      this.deps.metrics.inc(M.renewals, 'Certificate renewals, by outcome.', { outcome: 'renewed' })
      this.deps.log.info('certificate renewed', { notAfter: r.value.notAfter })
      return true
    } catch (e) {
      this.deps.metrics.inc(M.renewals, 'Certificate renewals, by outcome.', { outcome: 'failed' })
      this.deps.log.error('renewed certificate rejected', { error: e })
      return false
    }
  }

  /** Checks every interval until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (this.due(this.deps.clock.now())) {
        const ok = await this.renewNow(signal)
        if (!ok && !signal.aborted) {
          await sleep(this.backoff.next(), signal)
          continue
        }
        this.backoff.reset()
      }
      await sleep(this.deps.checkMs, signal)
    }
  }
}
