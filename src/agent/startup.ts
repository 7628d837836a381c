/**
 * The agent's start-up checks (docs/agent.md "Start-up checks"): trust file, host key, CA, a
 * writable state directory and a certificate (or a token to enroll with) are checked before any
 * work is accepted; any problem is one clear line and a non-zero exit. `--check-config` runs the
 * same checks plus the health-check declarations, without network.
 */
import { checkWritableDir, readFileIfExists } from '../runtime/durable-fs.ts'
import type { Logger } from '../runtime/log.ts'
import type { AgentConfig } from './config.ts'
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

/** Runs every start-up check; throws `AgentStartError` with one line on the first problem. */
export function prepareAgent(config: AgentConfig, log: Logger): PreparedAgent {
  let trust: TrustSource
  try {
    trust = new TrustSource(config.trustFile, (m) =>
      log.error('trust file unusable; keeping the last good one', { reason: m })
    )
  } catch (e) {
    throw new AgentStartError(e instanceof Error ? e.message : String(e))
  }
  try {
    const key = loadHostKey(config.clientKey)
    const ca = loadCaBundle(config.caCert, trust.get())
    const identity = new AgentIdentity(key, ca)
    const problem = checkWritableDir(config.stateDir)
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
    }
    return { trust, identity, certPresent: certBytes !== undefined }
  } catch (e) {
    if (e instanceof IdentityError || e instanceof AgentStartError)
      throw new AgentStartError(e.message)
    throw e
  }
}

/** The `--check-config` validation: start-up checks plus the health-check declarations. */
export function checkAgentConfig(config: AgentConfig, log: Logger): string {
  const p = prepareAgent(config, log)
  const checks = loadHealthChecks(config.healthChecksConfig)
  if (!checks.ok) throw new AgentStartError(checks.error)
  return `configuration ok: machine ${config.machineId}, ${p.certPresent ? 'enrolled' : 'will enroll'}, ${Object.keys(checks.probes).length} probe(s)`
}
