/**
 * The flags of `nixfleet control-plane` (each also `NIXFLEET_CP_<FLAG>`), with their defaults
 * from `CP_DEFAULTS`; `control-plane-config.ts` checks what they name.
 */
import { CP_DEFAULTS } from '../../cp/config.ts'
import type { CommandSpec, OptionSpec } from '../args.ts'

export const cpEnv = (name: string): string =>
  `NIXFLEET_CP_${name.toUpperCase().replaceAll('-', '_')}`
const opt = (name: string, o: Omit<OptionSpec, 'env'>): [string, OptionSpec] => [
  name,
  { ...o, env: cpEnv(name) },
]
const s = (value: string, description: string, extra: Partial<OptionSpec> = {}) =>
  ({ type: 'string', value, description, ...extra }) as const

/** The declaration of `nixfleet control-plane`. */
export const cpSpec: CommandSpec = {
  name: 'control-plane',
  summary: 'run the control plane: signed releases in, dispatches out, over mTLS',
  usage:
    'nixfleet control-plane --tls-cert F --tls-key F --trust-file F --agent-cn-suffix S (--release-dir D | --channel-refs-artifact-url U …) [options]',
  details:
    'Every flag can also be set as NIXFLEET_CP_<FLAG> (e.g. NIXFLEET_CP_LISTEN). URL pairs must be given\n' +
    'together; --check-config validates flags and files, then exits 0 (or 2 with the problem).',
  options: Object.fromEntries([
    opt('listen', s('HOST:PORT', 'address to listen on', { default: CP_DEFAULTS.listen })),
    opt('tls-cert', s('FILE', 'server certificate (PEM)')),
    opt('tls-key', s('FILE', 'server private key (PEM)')),
    opt(
      'client-ca',
      s('FILE', 'CA that client certificates must chain to (default: --fleet-ca-cert)')
    ),
    opt('trust-file', s('FILE', 'trust.json (re-read on every poll and enrolment)')),
    opt(
      'database',
      // No declared default: given or not must be told apart from --db-path (its alias).
      s(
        'URL',
        `state database: sqlite:///PATH or postgres://USER@HOST[:PORT]/DB[?sslmode=…] (default ${CP_DEFAULTS.database})`
      )
    ),
    opt(
      'database-password-file',
      s('FILE', 'the PostgreSQL password (not readable by other users)')
    ),
    opt('db-path', s('PATH', 'deprecated alias: --database sqlite://PATH (":memory:" for tests)')),
    opt(
      'replica-id',
      s('NAME', 'this replica among CPs sharing a postgres:// --database (default HOSTNAME:PID)')
    ),
    opt('agent-cn-suffix', s('SUFFIX', 'agent certificate CN suffix: agent-<host>.<SUFFIX>')),
    opt('fleet-ca-cert', s('FILE', 'issuing CA certificate for enrolment and renewal')),
    opt('fleet-ca-key', s('FILE', 'issuing CA private key (P-256 PEM)')),
    opt('allow-file-ca-key', {
      type: 'boolean',
      description: 'accept a file-backed CA key under --strict',
    }),
    opt(
      'agent-cert-validity-secs',
      s('N', 'lifetime of issued agent certificates (min 60)', {
        default: String(CP_DEFAULTS.agentCertValiditySecs),
      })
    ),
    opt(
      'audit-log',
      s('FILE', 'JSONL log of every issued certificate', { default: CP_DEFAULTS.auditLog })
    ),
    opt(
      'freshness-window-secs',
      s('N', 'maximum age of signed artifacts', {
        default: String(CP_DEFAULTS.freshnessWindowSecs),
      })
    ),
    opt(
      'release-dir',
      s(
        'DIR',
        'local release directory (holding fleet.resolved.json, or a checkout with releases/)'
      )
    ),
    opt('artifact', s('FILE', 'fleet.resolved.json file (offline boot)')),
    opt('signature', s('FILE', 'its .sig (offline boot)')),
    opt('channel-refs-artifact-url', s('URL', 'URL of the signed fleet.resolved.json')),
    opt('channel-refs-signature-url', s('URL', 'URL of its signature')),
    opt('channel-refs-token-file', s('FILE', 'bearer token for the channel-refs URLs')),
    opt('rollouts-source-artifact-url-template', s('URL', 'rollout manifest URL with {rolloutId}')),
    opt('rollouts-source-signature-url-template', s('URL', 'its signature URL with {rolloutId}')),
    opt(
      'rollouts-source-token-file',
      s('FILE', 'bearer token for rollout URLs (default: channel-refs token)')
    ),
    opt('rollouts-dir', s('DIR', 'local directory of <rolloutId>.json{,.sig}')),
    opt('revocations-artifact-url', s('URL', 'URL of the signed revocations.json')),
    opt('revocations-signature-url', s('URL', 'URL of its signature')),
    opt('revocations-token-file', s('FILE', 'bearer token (default: channel-refs token)')),
    opt('bootstrap-nonces-artifact-url', s('URL', 'URL of the signed bootstrap-nonces.json')),
    opt('bootstrap-nonces-signature-url', s('URL', 'URL of its signature')),
    opt('bootstrap-nonces-token-file', s('FILE', 'bearer token (default: channel-refs token)')),
    opt('webhook-token-file', s('FILE', 'enables POST /v1/webhook/refresh with this bearer token')),
    opt('closure-upstream', s('URL', 'binary cache proxied by /v1/agent/closure/:hash')),
    opt(
      'closure-check-url',
      s('URL', 'binary cache (http(s) or file://) whose narinfo gates dispatch (default: upstream)')
    ),
    opt('strict', {
      type: 'boolean',
      description: 'require the protocol header and every security input',
    }),
    opt('check-config', { type: 'boolean', description: 'validate the configuration and exit' }),
    opt('log-level', s('LEVEL', 'debug, info, warn or error', { default: CP_DEFAULTS.logLevel })),
    opt(
      'metrics-listen',
      s('ADDR', 'also serve /metrics over plain HTTP on [HOST:]PORT (a bare port is 127.0.0.1)')
    ),
    opt('access-log', {
      type: 'boolean',
      description: 'log every request (method, route, status, duration, caller) at info',
    }),
    opt(
      'poll-interval-secs',
      s('N', 'release poll cadence', { default: String(CP_DEFAULTS.pollIntervalSecs) })
    ),
    opt(
      'list-poll-interval-secs',
      s('N', 'revocations / bootstrap-nonces poll cadence', {
        default: String(CP_DEFAULTS.listPollIntervalSecs),
      })
    ),
    opt(
      'plan-interval-secs',
      s('N', 'plan tick cadence', { default: String(CP_DEFAULTS.planIntervalSecs) })
    ),
    opt(
      'prune-interval-secs',
      s('N', 'retention prune cadence', { default: String(CP_DEFAULTS.pruneIntervalSecs) })
    ),
    opt(
      'prime-timeout-secs',
      s('N', 'how long start waits for the first release before listening', {
        default: String(CP_DEFAULTS.primeTimeoutSecs),
      })
    ),
    opt(
      'plan-debounce-ms',
      s('N', 'delay between a state change and the plan pass it triggers', {
        default: String(CP_DEFAULTS.planDebounceMs),
      })
    ),
    opt(
      'startup-dispatch-hold-secs',
      s('N', 'hold dispatches to hosts not yet heard from after start', {
        default: String(CP_DEFAULTS.startupDispatchHoldSecs),
      })
    ),
    opt(
      'redeliver-after-secs',
      s('N', 'queue a delivered, unacknowledged dispatch again after', {
        default: String(CP_DEFAULTS.redeliverAfterSecs),
      })
    ),
    opt(
      'heartbeat-interval-secs',
      s('N', "the agents' heartbeat interval; a host silent for 3 of them is offline", {
        default: String(CP_DEFAULTS.heartbeatIntervalSecs),
      })
    ),
    opt(
      'events-per-minute',
      s('N', 'events one host may post per minute (beyond: 429)', {
        default: String(CP_DEFAULTS.eventsPerMinute),
      })
    ),
    opt(
      'event-burst',
      s('N', 'events one host may post at once above that rate', {
        default: String(CP_DEFAULTS.eventBurst),
      })
    ),
    opt(
      'event-field-bytes',
      s('N', 'longest stored text field of an event (cut with a marker)', {
        default: String(CP_DEFAULTS.eventFieldBytes),
      })
    ),
    opt(
      'event-bytes',
      s('N', 'largest stored event once its fields are cut (beyond: 413)', {
        default: String(CP_DEFAULTS.eventBytes),
      })
    ),
    opt(
      'probe-results-kept',
      s('N', 'probe results kept per host and rollout', {
        default: String(CP_DEFAULTS.probeResultsKept),
      })
    ),
    opt(
      'refusal-log-interval-secs',
      s('N', 'log identical refusals once per interval, with a count', {
        default: String(CP_DEFAULTS.refusalLogIntervalSecs),
      })
    ),
    opt(
      'handshake-timeout-secs',
      s('N', 'time a client has to finish its TLS handshake', {
        default: String(CP_DEFAULTS.handshakeTimeoutSecs),
      })
    ),
    opt(
      'headers-timeout-secs',
      s('N', 'time a connection without a certificate may send no request', {
        default: String(CP_DEFAULTS.headersTimeoutSecs),
      })
    ),
    opt(
      'body-timeout-secs',
      s('N', 'time a request body may take to arrive', {
        default: String(CP_DEFAULTS.bodyTimeoutSecs),
      })
    ),
    opt(
      'max-pending-handshakes',
      s('N', 'connections in their TLS handshake at once', {
        default: String(CP_DEFAULTS.maxPendingHandshakes),
      })
    ),
    opt(
      'max-anonymous-per-address',
      s('N', 'connections without a certificate per source address', {
        default: String(CP_DEFAULTS.maxAnonymousPerAddress),
      })
    ),
  ]),
}
