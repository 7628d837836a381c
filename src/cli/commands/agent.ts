/**
 * `nixfleet agent`: the per-host daemon (docs/agent.md). Flags follow the reference agent
 * (each also readable from `NIXFLEET_AGENT_*`), plus the NixOS touch points as flags with real
 * defaults and the worker cadences for tests. `--check-config` validates and exits.
 * Exit codes: 0 clean stop or valid config, 2 bad configuration or a start-up failure (one line).
 */
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import * as v from 'valibot'
import pkg from '../../../package.json' with { type: 'json' }
import {
  DEFAULT_CADENCE,
  DEFAULT_PATHS,
  DEFAULT_RENEWAL_THRESHOLD_FRACTION,
  parseListen,
  type AgentConfig,
} from '../../agent/config.ts'
import { HostnameSchema } from '../../proto/ids.ts'
import { type CommandSpec, type OptionSpec, type ParsedArgs, flag, list, str } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'

const env = (name: string): string => `NIXFLEET_AGENT_${name}`

function opt(description: string, extra: Partial<OptionSpec> = {}): OptionSpec {
  return { type: 'string', description, ...extra }
}

const secs = (ms: number): string => String(ms / 1000)

/** The declaration of `nixfleet agent`. */
export const agentSpec: CommandSpec = {
  name: 'agent',
  summary: 'run the host agent: pull, verify, switch, probe, soak, roll back',
  usage: 'nixfleet agent --control-plane-url URL [--control-plane-url URL…] [options]',
  details:
    'Runs until SIGTERM. The TLS key is the SSH host key; without a client certificate the agent\n' +
    'enrolls with --bootstrap-token-file first. Every path below is a NixOS default; tests point\n' +
    'them at shims. Logs are JSON lines on stderr. See docs/agent.md.',
  options: {
    'control-plane-url': opt(
      'control plane base URL (https://host:port); give it once per control plane, in order of preference: the agent sticks to the one that answers and moves on when it stops',
      {
        value: 'URL',
        env: env('CONTROL_PLANE_URL'),
        required: true,
        multiple: true,
      }
    ),
    'machine-id': opt("this host's fleet hostname (default: the system hostname)", {
      value: 'NAME',
      env: env('MACHINE_ID'),
    }),
    'trust-file': opt('trust.json with the CI release key', {
      value: 'FILE',
      env: env('TRUST_FILE'),
      default: DEFAULT_PATHS.trustFile,
    }),
    'ca-cert': opt("fleet CA bundle (default: the trust file's rootCaPem + issuanceCaPems)", {
      value: 'FILE',
      env: env('CA_CERT'),
    }),
    'client-cert': opt('client certificate (written by enrollment)', {
      value: 'FILE',
      env: env('CLIENT_CERT'),
      default: DEFAULT_PATHS.clientCert,
    }),
    'client-key': opt('the same as --ssh-host-key-file (older name); both must name one file', {
      value: 'FILE',
      env: env('CLIENT_KEY'),
    }),
    'bootstrap-token-file': opt('bootstrap token for first-boot enrollment', {
      value: 'FILE',
      env: env('BOOTSTRAP_TOKEN_FILE'),
    }),
    'state-dir': opt('durable state: outbox, records, anti-rollback marks, cached manifests', {
      value: 'DIR',
      env: env('STATE_DIR'),
      default: DEFAULT_PATHS.stateDir,
    }),
    'ssh-host-key-file': opt(
      `the SSH host ed25519 key (OpenSSH or PKCS#8): the TLS key, it signs the certificate request and its public half verifies compliance evidence (default: --client-key, else ${DEFAULT_PATHS.sshHostKeyFile})`,
      { value: 'FILE', env: env('SSH_HOST_KEY_FILE') }
    ),
    'health-checks-config': opt('probe declarations (missing file = no probes)', {
      value: 'FILE',
      env: env('HEALTH_CHECKS_CONFIG'),
      default: DEFAULT_PATHS.healthChecksConfig,
    }),
    'renewal-threshold-fraction': opt(
      'renew the certificate when less than this fraction of its lifetime is left (0 disables)',
      {
        value: 'F',
        env: env('RENEWAL_THRESHOLD_FRACTION'),
        default: String(DEFAULT_RENEWAL_THRESHOLD_FRACTION),
      }
    ),
    'manifest-freshness-window-secs': opt(
      "cap on a signed manifest's age (default: the channel's signed freshnessWindow; only tightens)",
      { value: 'N', env: env('MANIFEST_FRESHNESS_WINDOW_SECS') }
    ),
    'metrics-listen': opt('serve Prometheus metrics on HOST:PORT (e.g. 127.0.0.1:9101)', {
      value: 'ADDR',
      env: env('METRICS_LISTEN'),
    }),
    'closure-proxy-listen': opt(
      "serve a local binary cache on loopback HOST:PORT that fetches through the CP's closure proxy",
      { value: 'ADDR', env: env('CLOSURE_PROXY_LISTEN') }
    ),
    'log-level': opt('debug, info, warn or error', {
      value: 'LEVEL',
      env: env('LOG_LEVEL'),
      default: 'info',
    }),
    'current-system': opt('the running-system symlink', {
      value: 'PATH',
      env: env('CURRENT_SYSTEM'),
      default: DEFAULT_PATHS.currentSystem,
    }),
    'system-profile': opt('the system profile nix-env sets', {
      value: 'PATH',
      env: env('SYSTEM_PROFILE'),
      default: DEFAULT_PATHS.systemProfile,
    }),
    'nix-store-dir': opt('the Nix store directory closures live in', {
      value: 'DIR',
      env: env('NIX_STORE_DIR'),
      default: DEFAULT_PATHS.nixStoreDir,
    }),
    'nix-store': opt('nix-store command', {
      value: 'CMD',
      env: env('NIX_STORE'),
      default: 'nix-store',
    }),
    'nix-env': opt('nix-env command', { value: 'CMD', env: env('NIX_ENV'), default: 'nix-env' }),
    'systemd-run': opt('systemd-run command', {
      value: 'CMD',
      env: env('SYSTEMD_RUN'),
      default: 'systemd-run',
    }),
    flock: opt('flock command (switch lock check)', {
      value: 'CMD',
      env: env('FLOCK'),
      default: 'flock',
    }),
    'switch-lock': opt('lock held by a running switch-to-configuration', {
      value: 'PATH',
      env: env('SWITCH_LOCK'),
      default: DEFAULT_PATHS.switchLock,
    }),
    'manifest-poll-interval-secs': opt('manifest poll cadence', {
      value: 'N',
      env: env('MANIFEST_POLL_INTERVAL_SECS'),
      default: secs(DEFAULT_CADENCE.manifestPollMs),
    }),
    'heartbeat-interval-secs': opt('heartbeat cadence', {
      value: 'N',
      env: env('HEARTBEAT_INTERVAL_SECS'),
      default: secs(DEFAULT_CADENCE.heartbeatMs),
    }),
    'dispatch-wait-secs': opt('long-poll hold time asked of the CP (≤ 60)', {
      value: 'N',
      env: env('DISPATCH_WAIT_SECS'),
      default: String(DEFAULT_CADENCE.dispatchWaitSecs),
    }),
    'tick-interval-ms': opt('soak / sustained-failure tick', {
      value: 'MS',
      env: env('TICK_INTERVAL_MS'),
      default: String(DEFAULT_CADENCE.tickMs),
    }),
    'drain-interval-secs': opt('outbound retry cadence (events are also posted at once)', {
      value: 'N',
      env: env('DRAIN_INTERVAL_SECS'),
      default: secs(DEFAULT_CADENCE.drainMs),
    }),
    'renewal-check-interval-secs': opt('certificate renewal check cadence', {
      value: 'N',
      env: env('RENEWAL_CHECK_INTERVAL_SECS'),
      default: secs(DEFAULT_CADENCE.renewalCheckMs),
    }),
    'switch-poll-interval-ms': opt('current-system poll interval during a switch', {
      value: 'MS',
      env: env('SWITCH_POLL_INTERVAL_MS'),
      default: String(DEFAULT_CADENCE.switchPollMs),
    }),
    'switch-timeout-secs': opt('budget for the link to name the target', {
      value: 'N',
      env: env('SWITCH_TIMEOUT_SECS'),
      default: secs(DEFAULT_CADENCE.switchTimeoutMs),
    }),
    'realise-timeout-secs': opt('budget for nix-store --realise', {
      value: 'N',
      env: env('REALISE_TIMEOUT_SECS'),
      default: secs(DEFAULT_CADENCE.realiseTimeoutMs),
    }),
    'enroll-retry-secs': opt('enrollment retry interval while the CP is not ready', {
      value: 'N',
      env: env('ENROLL_RETRY_SECS'),
      default: secs(DEFAULT_CADENCE.enrollRetryMs),
    }),
    'backoff-max-secs': opt('cap of the retry backoff when the CP is down', {
      value: 'N',
      env: env('BACKOFF_MAX_SECS'),
      default: secs(DEFAULT_CADENCE.backoffMaxMs),
    }),
    prefetch: {
      type: 'boolean',
      description:
        'realise the next target closure in the background (low priority) before its dispatch',
      env: env('PREFETCH'),
    },
    'check-config': {
      type: 'boolean',
      description: 'validate the configuration (trust, key, CA, state dir, probes) and exit',
      env: env('CHECK_CONFIG'),
    },
  },
}

function positiveNumber(
  args: ParsedArgs,
  name: string,
  opts: { integer: boolean; min?: number; max?: number }
): number {
  const s = str(args, name)!
  const n = Number(s)
  const min = opts.min ?? 1
  if (
    !/^\d+(\.\d+)?$/.test(s) ||
    !Number.isFinite(n) ||
    (opts.integer && !Number.isInteger(n)) ||
    n < min ||
    (opts.max !== undefined && n > opts.max)
  ) {
    const range = opts.max !== undefined ? ` between ${min} and ${opts.max}` : ` ≥ ${min}`
    throw new CliError(
      `agent: --${name} must be ${opts.integer ? 'an integer' : 'a number'}${range}`
    )
  }
  return n
}

/** The agent configuration from parsed arguments; throws `CliError` naming the bad flag. */
function agentConfigFromArgs(args: ParsedArgs): AgentConfig {
  const controlPlaneUrls = controlPlaneUrlsOf(list(args, 'control-plane-url'))
  const machineId = str(args, 'machine-id') ?? hostname()
  if (!v.is(HostnameSchema, machineId)) {
    throw new CliError(
      `agent: --machine-id ${String(machineId).slice(0, 64)} is not a fleet hostname`
    )
  }
  const level = str(args, 'log-level')!
  if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') {
    throw new CliError('agent: --log-level must be debug, info, warn or error')
  }
  const fraction = Number(str(args, 'renewal-threshold-fraction'))
  if (!Number.isFinite(fraction) || fraction < 0 || fraction >= 1) {
    throw new CliError('agent: --renewal-threshold-fraction must be a number in [0, 1)')
  }
  const listen = str(args, 'metrics-listen')
  const metricsListen = listen === undefined ? undefined : parseListen(listen)
  if (listen !== undefined && metricsListen === undefined) {
    throw new CliError('agent: --metrics-listen must be HOST:PORT, e.g. 127.0.0.1:9101')
  }
  const proxyArg = str(args, 'closure-proxy-listen')
  const closureProxyListen = proxyArg === undefined ? undefined : parseListen(proxyArg)
  if (
    proxyArg !== undefined &&
    !['127.0.0.1', '::1', 'localhost'].includes(closureProxyListen?.hostname ?? '')
  )
    throw new CliError(
      'agent: --closure-proxy-listen must be a loopback HOST:PORT, e.g. 127.0.0.1:9465'
    )
  const sshHostKeyFile = hostKeyFile(args)
  const ms = (name: string, min = 1): number => positiveNumber(args, name, { integer: true, min })
  const s2ms = (name: string): number =>
    positiveNumber(args, name, { integer: false, min: 0.001 }) * 1000
  return {
    controlPlaneUrls,
    machineId,
    trustFile: str(args, 'trust-file')!,
    caCert: str(args, 'ca-cert'),
    clientCert: str(args, 'client-cert')!,
    bootstrapTokenFile: str(args, 'bootstrap-token-file'),
    stateDir: str(args, 'state-dir')!,
    sshHostKeyFile,
    healthChecksConfig: str(args, 'health-checks-config')!,
    renewalThresholdFraction: fraction,
    manifestFreshnessWindowSecs:
      str(args, 'manifest-freshness-window-secs') === undefined
        ? undefined
        : ms('manifest-freshness-window-secs'),
    metricsListen,
    closureProxyListen,
    prefetch: flag(args, 'prefetch'),
    logLevel: level,
    system: {
      currentSystem: str(args, 'current-system')!,
      systemProfile: str(args, 'system-profile')!,
      nixStoreDir: str(args, 'nix-store-dir')!,
      nixStore: str(args, 'nix-store')!,
      nixEnv: str(args, 'nix-env')!,
      systemdRun: str(args, 'systemd-run')!,
      flock: str(args, 'flock')!,
      switchLock: str(args, 'switch-lock')!,
    },
    cadence: {
      manifestPollMs: s2ms('manifest-poll-interval-secs'),
      heartbeatMs: s2ms('heartbeat-interval-secs'),
      dispatchWaitSecs: positiveNumber(args, 'dispatch-wait-secs', {
        integer: true,
        min: 0,
        max: 60,
      }),
      tickMs: ms('tick-interval-ms', 10),
      drainMs: s2ms('drain-interval-secs'),
      renewalCheckMs: s2ms('renewal-check-interval-secs'),
      switchPollMs: ms('switch-poll-interval-ms', 10),
      switchTimeoutMs: s2ms('switch-timeout-secs'),
      realiseTimeoutMs: s2ms('realise-timeout-secs'),
      enrollRetryMs: s2ms('enroll-retry-secs'),
      backoffMaxMs: s2ms('backoff-max-secs'),
    },
  }
}

/**
 * The control planes, each as `https://host:port`, in the order given. Each is checked as one
 * was before there could be several; an error quotes the bad one when there are several.
 */
function controlPlaneUrlsOf(urls: readonly string[]): string[] {
  const out: string[] = []
  for (const url of urls) {
    const which = urls.length > 1 ? ` (${url.slice(0, 200)})` : ''
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new CliError(
        `agent: --control-plane-url${which} must be a URL such as https://cp.example:8443`
      )
    }
    if (parsed.protocol !== 'https:')
      throw new CliError(`agent: --control-plane-url${which} must use https (mTLS)`)
    const base = `${parsed.protocol}//${parsed.host}`
    if (out.includes(base)) throw new CliError(`agent: --control-plane-url ${base} is given twice`)
    out.push(base)
  }
  return out
}

/**
 * The one host key: `--ssh-host-key-file`, else `--client-key` (its older name), else the
 * default. Both given and different is refused: the certificate request is signed by the SSH
 * host key, so a second key could only break enrolment later, and silently.
 */
function hostKeyFile(args: ParsedArgs): string {
  const ssh = str(args, 'ssh-host-key-file')
  const client = str(args, 'client-key')
  if (ssh !== undefined && client !== undefined && resolve(ssh) !== resolve(client)) {
    throw new CliError(
      'agent: --client-key and --ssh-host-key-file name different files; the host key is one ' +
        'key (it signs the certificate request): give only --ssh-host-key-file'
    )
  }
  return ssh ?? client ?? DEFAULT_PATHS.sshHostKeyFile
}

/** Runs `nixfleet agent`. */
export async function agent(args: ParsedArgs): Promise<number> {
  const config = agentConfigFromArgs(args)
  // Loaded lazily: other commands never pay for the daemon's modules.
  const { AgentStartError, checkAgentConfig, runAgent } = await import('../../agent/main.ts')
  const { createLogger } = await import('../../runtime/log.ts')
  const log = createLogger({ component: 'agent', level: config.logLevel })
  try {
    if (flag(args, 'check-config')) {
      process.stdout.write(`${checkAgentConfig(config, log)}\n`)
      return EXIT_OK
    }
    const shutdown = new AbortController()
    const onSignal = (sig: string): void => {
      if (shutdown.signal.aborted) return
      log.info('signal received', { signal: sig })
      shutdown.abort()
    }
    process.on('SIGTERM', () => onSignal('SIGTERM'))
    process.on('SIGINT', () => onSignal('SIGINT'))
    const code = await runAgent(config, { version: pkg.version, shutdown: shutdown.signal, log })
    // A fired switch (detached child) or an idle keep-alive socket must not delay the exit.
    process.exit(code)
  } catch (e) {
    if (e instanceof AgentStartError) throw new CliError(`agent: ${e.message}`)
    throw e
  }
}
