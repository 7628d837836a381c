/**
 * The agent's configuration: every path, URL and cadence the daemon uses, with the defaults a
 * NixOS host needs (spec runtime.md §6, protocol §8.2) and the sizing reason of each number.
 * Invariant: the daemon reads configuration only from this value; nothing below `agent/` reads
 * argv or the environment.
 */

/** The resolved agent configuration. */
export type AgentConfig = {
  /**
   * `https://host:port` of each control plane, in order of preference (never empty): the agent
   * sticks to the one that answers and moves to the next when it stops (`failover.ts`).
   */
  readonly controlPlaneUrls: readonly string[]
  /** The fleet hostname of this host (the agent's machine id, its certificate CN). */
  readonly machineId: string
  readonly trustFile: string
  /** PEM bundle of the fleet CA; `undefined` ⇒ the trust file's rootCaPem + issuanceCaPems. */
  readonly caCert: string | undefined
  readonly clientCert: string
  readonly bootstrapTokenFile: string | undefined
  readonly stateDir: string
  /**
   * The host's SSH ed25519 key, the agent's only key: the TLS key, the key that signs the
   * certificate request, and (its public half) the key compliance evidence is checked against.
   */
  readonly sshHostKeyFile: string
  readonly healthChecksConfig: string
  /** Renew when less than this fraction of the certificate's lifetime remains (0 < f < 1). */
  readonly renewalThresholdFraction: number
  /**
   * The operator's cap on a signed manifest's age; undefined: the channel's signed
   * `freshnessWindow` alone decides (`agentFreshnessWindowSecs`).
   */
  readonly manifestFreshnessWindowSecs: number | undefined
  readonly metricsListen: { readonly hostname: string; readonly port: number } | undefined
  /**
   * The loopback address of the local substituter that forwards to the CP's closure proxy
   * (`--closure-proxy-listen`); unset, none.
   */
  /** Realise the next target closure in the background before its dispatch (`--prefetch`). */
  readonly prefetch?: boolean
  readonly closureProxyListen?: { readonly hostname: string; readonly port: number } | undefined
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error'
  readonly system: SystemPaths
  readonly cadence: Cadence
}

/** The NixOS touch points: commands and paths (DECISIONS §7: shims in tests). */
export type SystemPaths = {
  /** The symlink naming the running system (`/run/current-system`). */
  readonly currentSystem: string
  /** The system profile (`/nix/var/nix/profiles/system`). */
  readonly systemProfile: string
  /** The store directory; `<storeDir>/<closure>` is a closure's path. */
  readonly nixStoreDir: string
  readonly nixStore: string
  readonly nixEnv: string
  readonly systemdRun: string
  readonly flock: string
  /** The lock a running switch-to-configuration holds. */
  readonly switchLock: string
}

/** The worker cadences and budgets (overridable for tests). */
export type Cadence = {
  readonly manifestPollMs: number
  readonly heartbeatMs: number
  readonly dispatchWaitSecs: number
  readonly tickMs: number
  readonly drainMs: number
  readonly renewalCheckMs: number
  readonly switchPollMs: number
  readonly switchTimeoutMs: number
  readonly realiseTimeoutMs: number
  readonly enrollRetryMs: number
  readonly backoffMaxMs: number
}

/** The default control-plane-independent paths of a NixOS host. */
export const DEFAULT_PATHS = {
  trustFile: '/etc/nixfleet/agent/trust.json',
  clientCert: '/var/lib/nixfleet-agent/agent.crt',
  sshHostKeyFile: '/etc/ssh/ssh_host_ed25519_key',
  stateDir: '/var/lib/nixfleet-agent',
  healthChecksConfig: '/etc/nixfleet/agent/health-checks.json',
  currentSystem: '/run/current-system',
  systemProfile: '/nix/var/nix/profiles/system',
  nixStoreDir: '/nix/store',
  switchLock: '/run/nixos/switch-to-configuration.lock',
} as const

/** The default cadences (reference values, spec runtime.md §6.3 and protocol §8.2). */
export const DEFAULT_CADENCE: Cadence = {
  // Manifest poll 30 s: a new release reaches every host within one CP poll plus this.
  manifestPollMs: 30_000,
  // Heartbeat 60 s: the CP's liveness view and recovery synthesis need no more.
  heartbeatMs: 60_000,
  // Long-poll hold 60 s: the CP clamps `wait` to 60; one request per minute per idle host.
  dispatchWaitSecs: 60,
  // Advance tick 5 s: soak and sustained-failure verdicts land within 5 s of being due.
  tickMs: 5_000,
  // Drain 15 s: events are normally posted at once (kicked); this only retries stragglers.
  drainMs: 15_000,
  // Renewal check 60 s: certificates live 30 days; a minute of lateness is irrelevant.
  renewalCheckMs: 60_000,
  // Switch poll 2 s, budget 300 s: a NixOS switch flips the link in seconds to a few minutes.
  switchPollMs: 2_000,
  switchTimeoutMs: 300_000,
  // Realise 30 min: a first deployment may download a multi-GB closure over a slow link.
  realiseTimeoutMs: 1_800_000,
  // Enrollment retry 10 s while the CP is not ready (reference).
  enrollRetryMs: 10_000,
  // Backoff cap 60 s: a host never waits longer than one heartbeat period after a CP outage.
  backoffMaxMs: 60_000,
}

/** The default cert renewal threshold: renew at half of the lifetime (RFC-0003). */
export const DEFAULT_RENEWAL_THRESHOLD_FRACTION = 0.5
/**
 * The window the agent applies when `--manifest-freshness-window-secs` is not given: the
 * control plane's default global window, so the channel's signed `freshnessWindow` decides for
 * manifests (the fleet itself is bound to them by their anchor). The flag can only tighten.
 */
export const UNCAPPED_FRESHNESS_WINDOW_SECS = 2_592_000

/** The agent's global freshness window: the flag when given, else uncapped. */
export const agentFreshnessWindowSecs = (
  config: Pick<AgentConfig, 'manifestFreshnessWindowSecs'>
) => config.manifestFreshnessWindowSecs ?? UNCAPPED_FRESHNESS_WINDOW_SECS

/** Parses `host:port` for the metrics listener; `undefined` when malformed. */
export function parseListen(
  value: string
): { readonly hostname: string; readonly port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value)
  if (!m) return undefined
  const port = Number(m[2])
  if (port > 65_535) return undefined
  return { hostname: m[1]!.replace(/^\[|\]$/g, ''), port }
}
