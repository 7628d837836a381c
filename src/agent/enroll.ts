/**
 * First-boot enrollment (protocol §7.1–7.4, DECISIONS §5); renewal is `workers/renewal.ts`.
 * Enrollment: when no client certificate exists and a bootstrap token file is given, the agent
 * builds a CSR (CN = bare hostname) signed by its SSH host key and posts `{token, csrPem}` to
 * `/v1/enroll` over TLS without a client certificate; the returned certificate is checked
 * against the key and written atomically. 502/503/504 (CP not ready) and network errors are
 * retried every 10 s, on the next control plane when there are several; any other refusal stops
 * the agent with one line.
 */
import { type AgentClient, describeClientError } from './cp-client.ts'
import {
  BOOTSTRAP_TOKEN_VERSION,
  BootstrapTokenSchema,
  type BootstrapToken,
} from '../proto/bootstrap.ts'
import { sha256Bytes } from '../crypto/sha256.ts'
import { toBase64 } from '../lib/bytes.ts'
import { readJsonFile } from '../runtime/json-file.ts'
import type { Logger } from '../runtime/log.ts'
import { hostCsrPem } from './csr.ts'
import { writeFileDurable } from '../runtime/durable-fs.ts'
import type { AgentIdentity } from './identity.ts'
import { sleep } from './timing.ts'

// Enrollment and renewal requests: the CP signs one certificate; 30 s covers a TPM-backed CA.
export const CERT_REQUEST_TIMEOUT_MS = 30_000

/** An enrollment that cannot succeed by retrying: the agent exits with this line. */
export class EnrollmentError extends Error {
  override readonly name = 'EnrollmentError'
}

/**
 * Reads and checks the bootstrap token file offline: its version, and that it was minted for
 * this host and this host key (the CP would refuse it for either; only it can check the signature).
 */
export function readBootstrapToken(
  path: string,
  machineId: string,
  publicKey: Uint8Array
): BootstrapToken {
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
  const fingerprint = toBase64(sha256Bytes(publicKey))
  if (r.value.claims.expectedPubkeyFingerprint !== fingerprint) {
    throw new EnrollmentError(
      `bootstrap token ${path} was minted for another host key (fingerprint ${r.value.claims.expectedPubkeyFingerprint.slice(0, 64)}; this host key's is ${fingerprint})`
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
  const token = readBootstrapToken(deps.tokenPath, deps.machineId, deps.identity.key.publicKey)
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
    // 502/504 too: a proxy or another control plane in front answers for one being replaced.
    const retry =
      e.kind === 'network' ||
      e.kind === 'timeout' ||
      (e.kind === 'status' && (e.status === 502 || e.status === 503 || e.status === 504))
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
