/**
 * The agent's start-up checks (docs/agent.md "Start-up checks"): trust file, host key, CA, a
 * writable state directory and a certificate (or a token for this host and key to enroll with)
 * are checked before any work is accepted; any problem is one clear line and a non-zero exit.
 * `--check-config` runs the same checks plus the health-check declarations, without network and
 * without side effects (the state directory is judged writable, not created).
 */
import { checkWritableDir, dirWriteProblem, readFileIfExists } from '../runtime/durable-fs.ts'
import type { Logger } from '../runtime/log.ts'
import type { AgentConfig } from './config.ts'
import { EnrollmentError, readBootstrapToken } from './enroll.ts'
import { AgentIdentity, IdentityError, loadCaBundle, loadHostKey } from './identity.ts'
import { TrustSource } from './trust.ts'
import { loadHealthChecks } from './workers/probes.ts'

/** A start-up failure: the daemon prints this one line and exits non-zero. */
export class AgentStartError extends Error {
  override readonly name = 'AgentStartError'
}

/** What the start-up checks produce. */
export type PreparedAgent = {
  readonly trust: TrustSource
  readonly identity: AgentIdentity
  readonly certPresent: boolean
}

/**
 * Runs every start-up check; throws `AgentStartError` with one line on the first problem.
 * `create: false` (the configuration check) judges the state directory without creating it.
 */
export function prepareAgent(
  config: AgentConfig,
  log: Logger,
  opts: { readonly create: boolean } = { create: true }
): PreparedAgent {
  let trust: TrustSource
  try {
    trust = new TrustSource(config.trustFile, (m) =>
      log.error('trust file unusable; keeping the last good one', { reason: m })
    )
  } catch (e) {
    throw new AgentStartError(e instanceof Error ? e.message : String(e))
  }
  try {
    const key = loadHostKey(config.sshHostKeyFile)
    const ca = loadCaBundle(config.caCert, trust.get())
    const identity = new AgentIdentity(key, ca)
    const problem = opts.create
      ? checkWritableDir(config.stateDir)
      : dirWriteProblem(config.stateDir)?.reason
    if (problem)
      throw new AgentStartError(`state directory ${config.stateDir} is not writable: ${problem}`)
    const certBytes = readFileIfExists(config.clientCert)
    if (certBytes) {
      identity.setCertificate(
        new TextDecoder().decode(certBytes),
        `client certificate ${config.clientCert}`
      )
    } else if (config.bootstrapTokenFile === undefined) {
      throw new AgentStartError(
        `no client certificate at ${config.clientCert} and no --bootstrap-token-file to enroll with`
      )
    } else {
      readBootstrapToken(config.bootstrapTokenFile, config.machineId, key.publicKey)
    }
    return { trust, identity, certPresent: certBytes !== undefined }
  } catch (e) {
    if (e instanceof IdentityError || e instanceof AgentStartError || e instanceof EnrollmentError)
      throw new AgentStartError(e.message)
    throw e
  }
}

/** The `--check-config` validation: start-up checks plus the health-check declarations. */
export function checkAgentConfig(config: AgentConfig, log: Logger): string {
  const p = prepareAgent(config, log, { create: false })
  const checks = loadHealthChecks(config.healthChecksConfig)
  if (!checks.ok) throw new AgentStartError(checks.error)
  return `configuration ok: machine ${config.machineId}, ${p.certPresent ? 'enrolled' : 'will enroll'}, ${Object.keys(checks.probes).length} probe(s)`
}
