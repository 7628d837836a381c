/**
 * The control plane's checked configuration (`CpConfig`), the defaults of its flags, and the
 * reader of the one file it re-reads on every use (the webhook token). The flags themselves and
 * the loader that checks every file they name live with the command
 * (`cli/commands/control-plane.ts`), as the agent's do, so the control plane never imports the
 * command line. Invariant: the daemon reads configuration only from a `CpConfig` value.
 */
import type { DatabaseTarget } from '../db/url.ts'
import type { LogLevel } from '../runtime/log.ts'
import type { SourceConfig } from './sources/index.ts'

/** The checked configuration. */
export type CpConfig = {
  readonly listen: { readonly host: string; readonly port: number }
  /** Plain-HTTP `/metrics` (`--metrics-listen`), beside the mTLS one; unset = none. */
  readonly metricsListen?: { readonly host: string; readonly port: number } | undefined
  /** Log every request at info (`--access-log`). */
  readonly accessLog?: boolean
  readonly tls: { readonly certPem: string; readonly keyPem: string; readonly clientCaPem: string }
  readonly trustFile: string
  /** The state database (`--database`); PostgreSQL's password is in `passwordFile`, never here. */
  readonly database: DatabaseTarget
  /** This replica's name in `cp_leader.holder` and logs (`--replica-id`; default hostname:pid). */
  readonly replicaId?: string | undefined
  readonly agentCnSuffix: string
  readonly fleetCa: { readonly certPath: string; readonly keyPath: string } | undefined
  readonly agentCertValiditySecs: number
  readonly auditLog: string
  readonly freshnessWindowSecs: number
  readonly sources: SourceConfig
  readonly strict: boolean
  readonly webhookTokenFile: string | undefined
  readonly closureUpstream: string | undefined
  /**
   * The binary cache whose narinfo must hold a target closure before its hosts are dispatched
   * (`--closure-check-url`); unset, `closureUpstream`; neither, no check.
   */
  readonly closureCheckUrl?: string | undefined
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
    /** The agents' heartbeat interval: a host silent for three of them is shown offline. */
    readonly heartbeatIntervalMs?: number | undefined
  }
  /** What one host or one peer may cost the CP; unset fields take `CP_LIMITS`. */
  readonly limits?: Partial<CpLimits>
}

/** What one host or one unauthenticated peer may cost the control plane. */
export type CpLimits = {
  /** Events one host may post per minute, sustained (beyond: 429 + Retry-After). */
  readonly eventsPerMinute: number
  /** Events one host may post in a burst above the sustained rate. */
  readonly eventBurst: number
  /** The longest text field of a stored event (a failure reason, a stderr tail), in bytes. */
  readonly eventFieldBytes: number
  /** The largest event stored once its fields are capped, in bytes (beyond: 413). */
  readonly eventBytes: number
  /** Probe results kept per host and rollout in the event log (older ones are deleted). */
  readonly probeResultsKept: number
  /** Identical refusals are logged once per this interval, with a count. */
  readonly refusalLogIntervalMs: number
  /** How long a client has to complete its TLS handshake. */
  readonly handshakeTimeoutMs: number
  /** How long a connection without a client certificate may send no complete request head. */
  readonly headersTimeoutMs: number
  /** How long a request body may take to arrive in full. */
  readonly bodyTimeoutMs: number
  /** Connections still in their TLS handshake, over all peers (beyond: closed at once). */
  readonly maxPendingHandshakes: number
  /** Connections without a verified client certificate per source address. */
  readonly maxAnonymousPerAddress: number
}

/** The default of each flag that has one (strings, as the command line takes them). */
export const CP_DEFAULTS = {
  listen: '0.0.0.0:8080',
  database: 'sqlite:///var/lib/nixfleet-cp/state.db',
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
  // The agents' default (`--heartbeat-interval-secs` of the agent): the CP cannot ask them.
  heartbeatIntervalSecs: 60,
  // Agents post a handful of events per activation and one result per probe and interval;
  // 120 a minute with a burst of 120 is far above that and caps a hostile host's writes.
  eventsPerMinute: 120,
  eventBurst: 120,
  // A failure reason or a stderr tail is a few lines; 4 KiB keeps the gist.
  eventFieldBytes: 4096,
  // Hundreds of evidence sub-results fit in 64 KiB.
  eventBytes: 65_536,
  // A soak of hours with a probe a minute; older results of the same pair go.
  probeResultsKept: 200,
  refusalLogIntervalSecs: 60,
  // A handshake takes milliseconds; ten seconds allow a congested link.
  handshakeTimeoutSecs: 10,
  headersTimeoutSecs: 15,
  bodyTimeoutSecs: 30,
  // A fleet reconnecting after a CP restart handshakes within seconds; 1,024 at once leaves
  // most of the descriptors to established connections.
  maxPendingHandshakes: 1024,
  maxAnonymousPerAddress: 64,
} as const

/** The limits of a configuration, defaults filled in. */
export function cpLimits(over: Partial<CpLimits> = {}): CpLimits {
  const d = CP_DEFAULTS
  return {
    eventsPerMinute: d.eventsPerMinute,
    eventBurst: d.eventBurst,
    eventFieldBytes: d.eventFieldBytes,
    eventBytes: d.eventBytes,
    probeResultsKept: d.probeResultsKept,
    refusalLogIntervalMs: d.refusalLogIntervalSecs * 1000,
    handshakeTimeoutMs: d.handshakeTimeoutSecs * 1000,
    headersTimeoutMs: d.headersTimeoutSecs * 1000,
    bodyTimeoutMs: d.bodyTimeoutSecs * 1000,
    maxPendingHandshakes: d.maxPendingHandshakes,
    maxAnonymousPerAddress: d.maxAnonymousPerAddress,
    ...over,
  }
}

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

/** The agents' heartbeat interval the CP assumes: the configured one, else the default. */
export function heartbeatIntervalMsOf(configured: number | undefined): number {
  return configured ?? CP_DEFAULTS.heartbeatIntervalSecs * 1000
}
