/**
 * The control plane's checked configuration (`CpConfig`), the defaults of its flags, and the
 * reader of the one file it re-reads on every use (the webhook token). The flags themselves and
 * the loader that checks every file they name live with the command
 * (`cli/commands/control-plane.ts`), as the agent's do, so the control plane never imports the
 * command line. Invariant: the daemon reads configuration only from a `CpConfig` value.
 */
import type { LogLevel } from '../runtime/log.ts'
import type { SourceConfig } from './sources/index.ts'

/** The checked configuration. */
export type CpConfig = {
  readonly listen: { readonly host: string; readonly port: number }
  readonly tls: { readonly certPem: string; readonly keyPem: string; readonly clientCaPem: string }
  readonly trustFile: string
  readonly dbPath: string
  readonly agentCnSuffix: string
  readonly fleetCa: { readonly certPath: string; readonly keyPath: string } | undefined
  readonly agentCertValiditySecs: number
  readonly auditLog: string
  readonly freshnessWindowSecs: number
  readonly sources: SourceConfig
  readonly strict: boolean
  readonly webhookTokenFile: string | undefined
  readonly closureUpstream: string | undefined
  readonly logLevel: LogLevel
  readonly cadence: {
    readonly releasePollMs: number
    readonly listPollMs: number
    readonly planIntervalMs: number
    readonly pruneIntervalMs: number
    readonly primeTimeoutMs: number
    readonly planDebounceMs: number
    readonly startupDispatchHoldMs: number
    readonly redeliverAfterMs: number
  }
}

/** The default of each flag that has one (strings, as the command line takes them). */
export const CP_DEFAULTS = {
  listen: '0.0.0.0:8080',
  dbPath: '/var/lib/nixfleet-cp/state.db',
  agentCertValiditySecs: 2_592_000,
  auditLog: '/var/lib/nixfleet-cp/issuance.log',
  freshnessWindowSecs: 2_592_000,
  logLevel: 'info',
  pollIntervalSecs: 30,
  listPollIntervalSecs: 60,
  planIntervalSecs: 15,
  pruneIntervalSecs: 3600,
  primeTimeoutSecs: 20,
  planDebounceMs: 100,
  startupDispatchHoldSecs: 120,
  redeliverAfterSecs: 90,
} as const

/**
 * The reader of the webhook bearer token: the file named by `--webhook-token-file`, read fresh
 * on every call (a rotated token needs no restart); undefined when unset, unreadable or empty
 * (the webhook route then does not exist).
 */
export function webhookTokenReader(file: string | undefined): () => Promise<string | undefined> {
  return async () => {
    if (file === undefined) return undefined
    try {
      const t = (await Bun.file(file).text()).trim()
      return t === '' ? undefined : t
    } catch {
      return undefined
    }
  }
}
