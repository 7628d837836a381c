/**
 * `nixfleet control-plane`: runs the CP until SIGTERM/SIGINT, then stops in order (listener,
 * long-polls, workers, reducer drain, database) and exits 0. `--check-config` validates the
 * flags and every file they name, writing nothing, then exits. A fatal database error (a write
 * failure, or the file deleted under the CP) exits 1 so the service manager restarts the CP,
 * which rebuilds its memory from the database; a start-up failure (address in use, database
 * unopenable) is one line and exit 2 (docs/control-plane.md, "Running it").
 * The flag declaration and the loader that checks the flags and every file they name live here;
 * a misconfiguration is one clear line at start (exit 2) instead of a failure at the first
 * request. Invariants: URL pairs are given together or not at all; rollout URL templates contain
 * `{rolloutId}`; `--strict` refuses to start without client-certificate checking, signed
 * revocations and bootstrap nonces, and an explicit acknowledgement of a file-backed CA key.
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { isIP } from 'node:net'
import pkg from '../../../package.json' with { type: 'json' }
import { CP_DEFAULTS, type CpConfig } from '../../cp/config.ts'
import { createControlPlane, CpStartError, type ControlPlane } from '../../cp/main.ts'
import { releaseBase, type PairLocation, type SourceConfig } from '../../cp/sources/index.ts'
import { readTrustFile } from '../../cp/workers/release-poll.ts'
import {
  keyMatchesCertificate,
  normalizePrivateKeyPem,
  parseCertificate,
  readCaFiles,
} from '../../pki/cert.ts'
import { dirWriteProblem, fsReason } from '../../runtime/durable-fs.ts'
import type { LogLevel } from '../../runtime/log.ts'
import type { CommandSpec, OptionSpec, ParsedArgs } from '../args.ts'
import { flag, intOpt, str } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'

const env = (name: string): string => `NIXFLEET_CP_${name.toUpperCase().replaceAll('-', '_')}`
const opt = (name: string, o: Omit<OptionSpec, 'env'>): [string, OptionSpec] => [
  name,
  { ...o, env: env(name) },
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
      'db-path',
      s('PATH', 'SQLite state database (":memory:" for tests)', { default: CP_DEFAULTS.dbPath })
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
    opt('strict', {
      type: 'boolean',
      description: 'require the protocol header and every security input',
    }),
    opt('check-config', { type: 'boolean', description: 'validate the configuration and exit' }),
    opt('log-level', s('LEVEL', 'debug, info, warn or error', { default: CP_DEFAULTS.logLevel })),
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

// A fatal runtime error (the database failed): the service manager restarts the CP.
const EXIT_FATAL = 1

function fail(message: string): never {
  throw new CliError(`control-plane: ${message}`)
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    const code = (e as { code?: string }).code
    return fail(
      `${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : 'unreadable'}`
    )
  }
}

function pair(
  args: ParsedArgs,
  prefix: string,
  defaultToken: string | undefined,
  what: string
): PairLocation | undefined {
  const artifact = str(args, `${prefix}-artifact-url`)
  const signature = str(args, `${prefix}-signature-url`)
  if ((artifact === undefined) !== (signature === undefined)) {
    fail(`--${prefix}-artifact-url and --${prefix}-signature-url must be given together (${what})`)
  }
  if (artifact === undefined || signature === undefined) return undefined
  for (const u of [artifact, signature]) checkUrl(u, `--${prefix}-*-url`)
  const tokenFile = str(args, `${prefix}-token-file`) ?? defaultToken
  if (tokenFile !== undefined) readText(tokenFile, 'token file')
  return { type: 'url', artifact, signature, tokenFile }
}

function checkUrl(u: string, flagName: string): void {
  let url: URL
  try {
    url = new URL(u.replaceAll('{rolloutId}', 'x'))
  } catch {
    return fail(`${flagName} is not a URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    fail(`${flagName} must be an http(s) URL`)
}

function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value)
  const host = m?.[1] ?? m?.[2] ?? ''
  const port = Number(m?.[3])
  if (!m || port > 65535 || (host !== '' && isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host))) {
    fail('--listen must be HOST:PORT (e.g. 0.0.0.0:8080 or [::]:8080)')
  }
  return { host: host === '' ? '0.0.0.0' : host, port }
}

function secs(args: ParsedArgs, name: string, min = 0): number {
  const n = intOpt(args, 'control-plane', name)!
  if (n < min) fail(`--${name} must be at least ${min}`)
  return n
}

function dir(path: string | undefined, flagName: string): string | undefined {
  if (path === undefined) return undefined
  if (!existsSync(path) || !statSync(path).isDirectory())
    fail(`${flagName} ${path}: no such directory`)
  return path
}

/**
 * Every artifact (`*.json`) in `dirs` has its detached signature beside it: the poll would refuse
 * the release (or a manifest) as unsigned, and the CP would never become ready.
 */
function checkSigned(top: string, rollouts: string, flagName: string, given: string): void {
  for (const d of new Set([top, rollouts])) {
    if (!existsSync(d) || !statSync(d).isDirectory()) continue
    for (const name of readdirSync(d).sort()) {
      if (!name.endsWith('.json') || existsSync(join(d, `${name}.sig`))) continue
      fail(
        `${flagName} ${given}: ${relative(top, join(d, name))} has no signature ${join(d, `${name}.sig`)}`
      )
    }
  }
}

// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER = 'SQLite format 3\0'

/**
 * The database can be opened for writing, judged without creating anything: its directory (or the
 * nearest existing ancestor) is writable, and an existing file is writable and a SQLite database.
 */
function checkDatabasePath(path: string): void {
  if (path === ':memory:') return
  const p = dirWriteProblem(dirname(path))
  if (p !== undefined) fail(`--db-path ${path}: cannot write in ${p.at}: ${p.reason}`)
  if (!existsSync(path)) return
  let head: string
  try {
    accessSync(path, constants.W_OK)
    const fd = openSync(path, 'r')
    try {
      const buf = Buffer.alloc(SQLITE_HEADER.length)
      head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('latin1')
    } finally {
      closeSync(fd)
    }
  } catch (e) {
    return fail(`--db-path ${path}: ${fsReason(e)}`)
  }
  // An empty file is a new database to SQLite; anything else must carry its header.
  if (head !== '' && head !== SQLITE_HEADER) fail(`database ${path}: file is not a database`)
}

/** Checks the flags and every file they name; throws `CliError` with one line on a problem. */
async function loadCpConfig(args: ParsedArgs): Promise<CpConfig> {
  const need = (name: string): string =>
    str(args, name) ?? fail(`missing required option --${name} (or ${env(name)})`)
  const listen = parseListen(str(args, 'listen')!)
  const certPath = need('tls-cert')
  const keyPath = need('tls-key')
  const certPem = readText(certPath, 'TLS certificate')
  const cert = parseCertificate(certPem)
  if (!cert.ok) fail(`TLS certificate ${certPath}: ${cert.error}`)
  const keyPem = readText(keyPath, 'TLS key')
  const key = normalizePrivateKeyPem(keyPem)
  if (!key.ok) fail(`TLS key ${keyPath}: ${key.error}`)
  if (!keyMatchesCertificate(keyPem, certPem))
    fail(`--tls-key ${keyPath} does not match --tls-cert ${certPath}`)
  // No extended key usage allows every purpose; a list without serverAuth fails every handshake.
  if (cert.extKeyUsage.length > 0 && !cert.extKeyUsage.includes('serverAuth')) {
    fail(
      `--tls-cert ${certPath}: not a server certificate (extended key usage ${cert.extKeyUsage.join(', ')}, needs serverAuth)`
    )
  }

  const fleetCaCert = str(args, 'fleet-ca-cert')
  const fleetCaKey = str(args, 'fleet-ca-key')
  if ((fleetCaCert === undefined) !== (fleetCaKey === undefined)) {
    fail('--fleet-ca-cert and --fleet-ca-key must be given together')
  }
  let fleetCa: CpConfig['fleetCa']
  if (fleetCaCert !== undefined && fleetCaKey !== undefined) {
    const ca = await readCaFiles({ certPath: fleetCaCert, keyPath: fleetCaKey })
    if (!ca.ok) fail(`fleet CA: ${ca.error}`)
    fleetCa = { certPath: fleetCaCert, keyPath: fleetCaKey }
  }
  const clientCaPath =
    str(args, 'client-ca') ??
    fleetCaCert ??
    fail('missing --client-ca (or --fleet-ca-cert to use as client CA)')
  const clientCaPem = readText(clientCaPath, 'client CA')
  const clientCa = parseCertificate(clientCaPem)
  if (!clientCa.ok) fail(`client CA ${clientCaPath}: ${clientCa.error}`)
  if (!clientCa.isCa)
    fail(`client CA ${clientCaPath}: not a CA certificate (basicConstraints cA=false)`)

  const trustFile = need('trust-file')
  const trust = await readTrustFile(trustFile)
  if (!trust.ok) fail(trust.message)
  if (fleetCa !== undefined && trust.trust.orgRootKey === null) {
    fail(
      `trust file ${trustFile} has no orgRootKey: enrolment (--fleet-ca-cert) cannot verify bootstrap tokens`
    )
  }

  const suffix = need('agent-cn-suffix')
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(suffix)) {
    fail('--agent-cn-suffix must be a DNS name such as fleet.example.internal')
  }

  const releaseDir = dir(str(args, 'release-dir'), '--release-dir')
  const rolloutsDir = dir(str(args, 'rollouts-dir'), '--rollouts-dir')
  if (releaseDir !== undefined) {
    const base = releaseBase(releaseDir)
    checkSigned(base, join(base, 'rollouts'), '--release-dir', releaseDir)
  }
  if (rolloutsDir !== undefined)
    checkSigned(rolloutsDir, rolloutsDir, '--rollouts-dir', rolloutsDir)
  const artifact = str(args, 'artifact')
  const signature = str(args, 'signature')
  if ((artifact === undefined) !== (signature === undefined))
    fail('--artifact and --signature must be given together')
  const refsToken = str(args, 'channel-refs-token-file')
  const refs = pair(args, 'channel-refs', undefined, 'fleet.resolved source')
  const tArtifact = str(args, 'rollouts-source-artifact-url-template')
  const tSignature = str(args, 'rollouts-source-signature-url-template')
  if ((tArtifact === undefined) !== (tSignature === undefined)) {
    fail(
      '--rollouts-source-artifact-url-template and --rollouts-source-signature-url-template must be given together'
    )
  }
  for (const t of [tArtifact, tSignature]) {
    if (t !== undefined && !t.includes('{rolloutId}'))
      fail('rollout URL templates must contain {rolloutId}')
    if (t !== undefined) checkUrl(t, '--rollouts-source-*-url-template')
  }
  const rolloutsToken = str(args, 'rollouts-source-token-file') ?? refsToken
  if (rolloutsToken !== undefined) readText(rolloutsToken, 'token file')
  const fleetSource: PairLocation | undefined =
    refs ??
    (artifact !== undefined && signature !== undefined
      ? { type: 'file', artifact, signature }
      : undefined)
  if (fleetSource === undefined && releaseDir === undefined) {
    fail(
      'no release source: give --release-dir, --channel-refs-artifact-url/--channel-refs-signature-url, or --artifact/--signature'
    )
  }
  const sources: SourceConfig = {
    releaseDir,
    fleet: fleetSource,
    rolloutsDir,
    rolloutsUrl:
      tArtifact !== undefined && tSignature !== undefined
        ? { artifact: tArtifact, signature: tSignature, tokenFile: rolloutsToken }
        : undefined,
    revocations: pair(args, 'revocations', refsToken, 'revocations'),
    bootstrapNonces: pair(args, 'bootstrap-nonces', refsToken, 'bootstrap nonces'),
  }

  const validity = secs(args, 'agent-cert-validity-secs', 60)
  const strict = flag(args, 'strict')
  if (strict) {
    if (str(args, 'client-ca') === undefined) fail('--strict requires --client-ca')
    if (sources.revocations === undefined)
      fail('--strict requires --revocations-artifact-url/--revocations-signature-url')
    if (sources.bootstrapNonces === undefined) {
      fail('--strict requires --bootstrap-nonces-artifact-url/--bootstrap-nonces-signature-url')
    }
    if (fleetCa !== undefined && !flag(args, 'allow-file-ca-key'))
      fail('--strict with a file CA key requires --allow-file-ca-key')
  }
  const webhookTokenFile = str(args, 'webhook-token-file')
  if (
    webhookTokenFile !== undefined &&
    readText(webhookTokenFile, 'webhook token file').trim() === ''
  ) {
    fail(`webhook token file ${webhookTokenFile} is empty`)
  }
  const closureUpstream = str(args, 'closure-upstream')
  if (closureUpstream !== undefined) checkUrl(closureUpstream, '--closure-upstream')
  const logLevel = str(args, 'log-level')!
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    fail('--log-level must be debug, info, warn or error')

  const dbPath = str(args, 'db-path')!
  checkDatabasePath(dbPath)
  const auditLog = str(args, 'audit-log')!
  if (fleetCa !== undefined) {
    // No certificate is issued without its audit line: an unwritable log refuses every enrolment.
    const p = dirWriteProblem(dirname(auditLog))
    if (p !== undefined) fail(`--audit-log ${auditLog}: cannot write in ${p.at}: ${p.reason}`)
  }

  return {
    listen,
    tls: { certPem, keyPem, clientCaPem },
    trustFile,
    dbPath,
    agentCnSuffix: suffix,
    fleetCa,
    agentCertValiditySecs: validity,
    auditLog,
    freshnessWindowSecs: secs(args, 'freshness-window-secs', 1),
    sources,
    strict,
    webhookTokenFile,
    closureUpstream,
    logLevel: logLevel as LogLevel,
    cadence: {
      releasePollMs: secs(args, 'poll-interval-secs', 1) * 1000,
      listPollMs: secs(args, 'list-poll-interval-secs', 1) * 1000,
      planIntervalMs: secs(args, 'plan-interval-secs', 1) * 1000,
      pruneIntervalMs: secs(args, 'prune-interval-secs', 1) * 1000,
      primeTimeoutMs: secs(args, 'prime-timeout-secs') * 1000,
      planDebounceMs: secs(args, 'plan-debounce-ms'),
      startupDispatchHoldMs: secs(args, 'startup-dispatch-hold-secs') * 1000,
      redeliverAfterMs: secs(args, 'redeliver-after-secs', 1) * 1000,
    },
    limits: {
      eventsPerMinute: secs(args, 'events-per-minute', 1),
      eventBurst: secs(args, 'event-burst', 1),
      eventFieldBytes: secs(args, 'event-field-bytes', 64),
      eventBytes: secs(args, 'event-bytes', 1024),
      probeResultsKept: secs(args, 'probe-results-kept', 1),
      refusalLogIntervalMs: secs(args, 'refusal-log-interval-secs', 1) * 1000,
      handshakeTimeoutMs: secs(args, 'handshake-timeout-secs', 1) * 1000,
      headersTimeoutMs: secs(args, 'headers-timeout-secs', 1) * 1000,
      bodyTimeoutMs: secs(args, 'body-timeout-secs', 1) * 1000,
      maxPendingHandshakes: secs(args, 'max-pending-handshakes', 1),
      maxAnonymousPerAddress: secs(args, 'max-anonymous-per-address', 1),
    },
  }
}

/** Runs `nixfleet control-plane`. */
export async function controlPlane(args: ParsedArgs): Promise<number> {
  const config = await loadCpConfig(args)
  if (flag(args, 'check-config')) {
    process.stdout.write('control-plane: configuration ok\n')
    return EXIT_OK
  }
  let cp: ControlPlane
  try {
    cp = await createControlPlane(config, { version: pkg.version, lightweightResponses: true })
  } catch (e) {
    if (e instanceof CpStartError) fail(e.message)
    throw e
  }
  await cp.listen()
  const signal = await new Promise<string>((resolve) => {
    const on = (name: string) => () => resolve(name)
    process.once('SIGTERM', on('SIGTERM'))
    process.once('SIGINT', on('SIGINT'))
    cp.fatal.then(() => resolve('fatal'))
  })
  await cp.stop()
  // An idle keep-alive socket or a stray timer must not hold the exit the service manager awaits.
  process.exit(signal === 'fatal' ? EXIT_FATAL : EXIT_OK)
}
