/**
 * First-boot enrollment and certificate renewal (protocol §7.1–7.4, DECISIONS §5).
 * Enrollment: when no client certificate exists and a bootstrap token file is given, the agent
 * builds a CSR (CN = bare hostname) signed by its SSH host key and posts `{token, csrPem}` to
 * `/v1/enroll` over TLS without a client certificate; the returned certificate is checked
 * against the key and written atomically. 503 (CP not ready) and network errors are retried
 * every 10 s; any other refusal stops the agent with one line.
 * Renewal: every minute, when less than `renewal-threshold-fraction` of the certificate's
 * lifetime is left, a new CSR from the same key goes to `/v1/agent/renew` over the current mTLS
 * identity; the new certificate is written atomically and used by the next request.
 */
import { type AgentClient, describeClientError } from './cp-client.ts'
import {
  BOOTSTRAP_TOKEN_VERSION,
  BootstrapTokenSchema,
  type BootstrapToken,
} from '../proto/bootstrap.ts'
import type { Clock } from '../runtime/clock.ts'
import { readJsonFile } from '../runtime/json-file.ts'
import type { Logger } from '../runtime/log.ts'
import { hostCsrPem } from './csr.ts'
import { writeFileDurable } from '../runtime/durable-fs.ts'
import { type AgentIdentity, remainingFraction } from './identity.ts'
import { M, type Metrics } from './metrics.ts'
import { Backoff, sleep } from './timing.ts'

// Enrollment and renewal requests: the CP signs one certificate; 30 s covers a TPM-backed CA.
const CERT_REQUEST_TIMEOUT_MS = 30_000
// After a failed renewal, retry 30 s later (reference), doubling up to the check interval.
const RENEW_BACKOFF_BASE_MS = 30_000

/** An enrollment that cannot succeed by retrying: the agent exits with this line. */
export class EnrollmentError extends Error {
  override readonly name = 'EnrollmentError'
}

/** Reads and checks the bootstrap token file. */
export function readBootstrapToken(path: string, machineId: string): BootstrapToken {
  const r = readJsonFile(path, BootstrapTokenSchema, 'bootstrap token')
  if (!r.ok) throw new EnrollmentError(r.message)
  if (r.value.version !== BOOTSTRAP_TOKEN_VERSION) {
    throw new EnrollmentError(`bootstrap token ${path}: unsupported version ${r.value.version}`)
  }
  if ((r.value.claims.hostname as string) !== machineId) {
    throw new EnrollmentError(
      `bootstrap token ${path} is for host ${r.value.claims.hostname}, not ${machineId}`
    )
  }
  return r.value
}

/** Enrolls this host; resolves once the certificate is installed and written. */
export async function enroll(deps: {
  readonly client: AgentClient
  readonly identity: AgentIdentity
  readonly machineId: string
  readonly tokenPath: string
  readonly certPath: string
  readonly retryMs: number
  readonly log: Logger
  readonly signal: AbortSignal
}): Promise<void> {
  const token = readBootstrapToken(deps.tokenPath, deps.machineId)
  const csrPem = hostCsrPem(deps.identity.key.seed, deps.machineId)
  deps.log.info('enrolling', { machineId: deps.machineId })
  let warned = false
  while (!deps.signal.aborted) {
    const r = await deps.client.enroll(
      { token, csrPem },
      { timeoutMs: CERT_REQUEST_TIMEOUT_MS, signal: deps.signal }
    )
    if (r.ok) {
      deps.identity.setCertificate(r.value.certPem, 'enrollment certificate')
      writeFileDurable(deps.certPath, r.value.certPem, 0o644)
      deps.log.info('enrolled', { certificate: deps.certPath, notAfter: r.value.notAfter })
      return
    }
    const e = r.error
    const retry =
      e.kind === 'network' || e.kind === 'timeout' || (e.kind === 'status' && e.status === 503)
    if (e.kind === 'aborted') break
    if (!retry) throw new EnrollmentError(`enrollment refused: ${describeClientError(e)}`)
    if (!warned) {
      warned = true
      deps.log.warn('enrollment not possible yet; retrying', {
        reason: describeClientError(e),
        retryMs: deps.retryMs,
      })
    }
    await sleep(deps.retryMs, deps.signal)
  }
  throw new EnrollmentError('enrollment interrupted by shutdown')
}

/** Renews the certificate when its remaining lifetime drops below the threshold. */
export class RenewalWorker {
  private readonly backoff: Backoff

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
    return validity !== undefined && remainingFraction(validity, now) < this.deps.thresholdFraction
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
