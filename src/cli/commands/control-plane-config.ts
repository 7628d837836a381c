/**
 * The loader of `nixfleet control-plane`: checks the flags and every file they name, writing
 * nothing, so a misconfiguration is one clear line at start (exit 2) instead of a failure at the
 * first request; `--check-config` stops after it. Invariants: URL pairs are given together or
 * not at all; rollout URL templates contain `{rolloutId}`; `--strict` refuses to start without
 * client-certificate checking, signed revocations and bootstrap nonces, and an explicit
 * acknowledgement of a file-backed CA key.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { isIP } from 'node:net'
import { CP_DEFAULTS, type CpConfig } from '../../cp/config.ts'
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
import type { ParsedArgs } from '../args.ts'
import { flag, intOpt, str } from '../args.ts'
import { CliError } from '../errors.ts'
import { databaseFlags } from './control-plane-database.ts'
import { cpEnv as env } from './control-plane-flags.ts'

export function fail(message: string): never {
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
  return parseAddress(
    value,
    '0.0.0.0',
    '--listen must be HOST:PORT (e.g. 0.0.0.0:8080 or [::]:8080)'
  )
}

/** `HOST:PORT`, `[V6]:PORT` or `:PORT` (host `emptyHost`); `fail(problem)` otherwise. */
function parseAddress(
  value: string,
  emptyHost: string,
  problem: string
): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value)
  const host = m?.[1] ?? m?.[2] ?? ''
  const port = Number(m?.[3])
  if (!m || port > 65535 || (host !== '' && isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host))) {
    fail(problem)
  }
  return { host: host === '' ? emptyHost : host, port }
}

/** `--metrics-listen`: loopback unless a host is named (a bare port is 127.0.0.1). */
function parseMetricsListen(value: string | undefined): { host: string; port: number } | undefined {
  if (value === undefined) return undefined
  return parseAddress(
    /^\d{1,5}$/.test(value) ? `127.0.0.1:${value}` : value,
    '127.0.0.1',
    '--metrics-listen must be PORT or HOST:PORT (e.g. 9102 or 127.0.0.1:9102)'
  )
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

/** Checks the flags and every file they name; throws `CliError` with one line on a problem. */
export async function loadCpConfig(args: ParsedArgs): Promise<CpConfig> {
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
  const closureCheckUrl = str(args, 'closure-check-url')
  if (closureCheckUrl !== undefined && !closureCheckUrl.startsWith('file://'))
    checkUrl(closureCheckUrl, '--closure-check-url')
  const logLevel = str(args, 'log-level')!
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    fail('--log-level must be debug, info, warn or error')

  const { database, replicaId } = databaseFlags(args, fail)
  const auditLog = str(args, 'audit-log')!
  if (fleetCa !== undefined) {
    // No certificate is issued without its audit line: an unwritable log refuses every enrolment.
    const p = dirWriteProblem(dirname(auditLog))
    if (p !== undefined) fail(`--audit-log ${auditLog}: cannot write in ${p.at}: ${p.reason}`)
  }

  return {
    listen,
    metricsListen: parseMetricsListen(str(args, 'metrics-listen')),
    accessLog: flag(args, 'access-log'),
    tls: { certPem, keyPem, clientCaPem },
    trustFile,
    database,
    ...(replicaId === undefined ? {} : { replicaId }),
    agentCnSuffix: suffix,
    fleetCa,
    agentCertValiditySecs: validity,
    auditLog,
    freshnessWindowSecs: secs(args, 'freshness-window-secs', 1),
    sources,
    strict,
    webhookTokenFile,
    closureUpstream,
    closureCheckUrl,
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
      heartbeatIntervalMs: secs(args, 'heartbeat-interval-secs', 1) * 1000,
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
