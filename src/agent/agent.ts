/**
 * The agent daemon: start-up checks, enrollment, the boot-recovery handshake, the workers around
 * the single mutator (spec runtime.md §6), and a bounded shutdown.
 *
 * Start: trust file, host key, CA and state directory are checked first; any problem is one
 * clear line and a non-zero exit before any work is accepted. Then: metrics listener (optional),
 * enrollment (first boot), persisted records and outbox (crash replay), cached manifests, one
 * heartbeat without a rollout id (bootstrap snapshots), local recovery, and the workers.
 * Stop (SIGTERM): no new work is taken, probes and polls are cancelled, the mutator drains its
 * queue, one last best-effort flush of the outbox runs, and the process exits within 5 s. A
 * switch already fired keeps running under systemd; the next start completes it.
 */
import type { Unsequenced } from '../core/index.ts'
import { AgentClient, describeClientError } from './cp-client.ts'
import { systemClock, type Clock } from '../runtime/clock.ts'
import { createLogger, type Logger } from '../runtime/log.ts'
import { readCurrentClosure } from './activation.ts'
import { ActivationWorker } from './activation-worker.ts'
import { AnchorStore } from './anchors.ts'
import type { AgentConfig } from './config.ts'
import { Drainer } from './drainer.ts'
import { enroll, EnrollmentError, RenewalWorker } from './enroll.ts'
import { checkWritableDir, readFileIfExists } from '../runtime/durable-fs.ts'
import { BOOT_HEARTBEAT_TIMEOUT_MS, HeartbeatWorker } from './heartbeat.ts'
import { HostStore } from './host-store.ts'
import { AgentIdentity, IdentityError, loadCaBundle, loadHostKey } from './identity.ts'
import { ManifestCache, type Refusal } from './manifests.ts'
import { declareAgentMetrics, M, Metrics, serveMetrics, type MetricsServer } from './metrics.ts'
import { Outbox } from './outbox.ts'
import { loadHealthChecks, ProbeWorker } from './probe-worker.ts'
import { AgentMutator } from './mutator/loop.ts'
import { Backoff, sleep } from './timing.ts'
import { TrustSource } from './trust.ts'
import { parseOpenSshPublicKey } from '../crypto/keys.ts'

/** A start-up failure: the daemon prints this one line and exits non-zero. */
export class AgentStartError extends Error {
  override readonly name = 'AgentStartError'
}

// The long-poll request deadline is the hold time plus this slack (reference: wait 60, 65 s).
const LONG_POLL_SLACK_MS = 5_000
// First dispatch retry after 1 s, doubling to the configured cap (60 s by default).
const DISPATCH_BACKOFF_BASE_MS = 1_000
// Shutdown: the whole stop sequence must fit in 5 s (systemd's TimeoutStopSec budget); the
// final outbox flush gets 2 s of it and the workers 1.5 s to notice cancellation.
const SHUTDOWN_FLUSH_MS = 2_000
const SHUTDOWN_JOIN_MS = 1_500

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

/** Options of a daemon run. */
export type RunOptions = {
  readonly version: string
  /** Aborted on SIGTERM/SIGINT. */
  readonly shutdown: AbortSignal
  readonly clock?: Clock
  readonly log?: Logger
}

/** Runs the agent until `shutdown` aborts; returns the exit code. */
export async function runAgent(config: AgentConfig, opts: RunOptions): Promise<number> {
  const clock = opts.clock ?? systemClock
  const log = opts.log ?? createLogger({ component: 'agent', level: config.logLevel })
  const prepared = prepareAgent(config, log)
  const { identity, trust } = prepared
  const metrics = new Metrics()
  declareAgentMetrics(metrics, opts.version)
  const workers = new AbortController()
  const stop = workers.signal
  opts.shutdown.addEventListener('abort', () => workers.abort(), { once: true })

  const client = new AgentClient({
    baseUrl: config.controlPlaneUrl,
    identity: () => identity.tls(),
    userAgent: `nixfleet-agent/${opts.version}`,
  })
  const { cadence, system } = config

  let metricsServer: MetricsServer | undefined
  let refreshGauges = (): void => {}
  if (config.metricsListen) {
    try {
      metricsServer = serveMetrics(metrics, config.metricsListen, () => refreshGauges())
    } catch (e) {
      throw new AgentStartError(
        `cannot listen for metrics on ${config.metricsListen.hostname}:${config.metricsListen.port}: ${e instanceof Error ? e.message : String(e)}`
      )
    }
    log.info('metrics listening', {
      hostname: config.metricsListen.hostname,
      port: metricsServer.port,
    })
  }

  try {
    if (!identity.enrolled) {
      await enroll({
        client,
        identity,
        machineId: config.machineId,
        tokenPath: config.bootstrapTokenFile!,
        certPath: config.clientCert,
        retryMs: cadence.enrollRetryMs,
        log: log.child('enroll'),
        signal: stop,
      })
    }
  } catch (e) {
    metricsServer?.stop()
    if (e instanceof EnrollmentError && stop.aborted) return 0
    if (e instanceof EnrollmentError) throw new AgentStartError(e.message)
    throw e
  }
  const validity = identity.certValidity
  if (validity)
    metrics.set(
      M.certNotAfter,
      'Expiry (Unix time) of the client certificate.',
      Math.floor(validity.notAfterMs / 1000)
    )

  // ---- state
  const anchors = new AnchorStore(config.stateDir)
  const outbox = new Outbox(config.stateDir)
  const swept = outbox.sweep()
  if (swept > 0) log.info('torn outbox writes removed', { files: swept })
  const store = new HostStore(config.stateDir)
  let lastRefusal: (Refusal & { at: number }) | undefined
  let reanchoredAt = anchors.reanchoredAt
  const manifests = new ManifestCache({
    client,
    trust,
    anchors,
    stateDir: config.stateDir,
    machineId: config.machineId,
    freshnessWindowSecs: config.manifestFreshnessWindowSecs,
    clock,
    log: log.child('manifest'),
    metrics,
    onReanchor: (at) => {
      reanchoredAt = at
    },
  })
  await manifests.loadFromDisk()

  // ---- the mutator and the workers it drives
  let mutator: AgentMutator | undefined
  const hostPublicKey = (): { ok: true; key: Uint8Array } | { ok: false; error: string } => {
    const pub = readFileIfExists(`${config.sshHostKeyFile}.pub`)
    if (pub) {
      const k = parseOpenSshPublicKey(new TextDecoder().decode(pub))
      return k.ok
        ? { ok: true, key: k.value }
        : { ok: false, error: `${config.sshHostKeyFile}.pub: ${k.error}` }
    }
    try {
      return { ok: true, key: loadHostKey(config.sshHostKeyFile).publicKey }
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) }
    }
  }
  const probes = new ProbeWorker({
    configPath: config.healthChecksConfig,
    context: { machineId: config.machineId, hostPublicKey },
    emit: (rolloutId: string, event: Unsequenced) => {
      if (!mutator!.submit({ type: 'Local', rolloutId, event }))
        log.warn('probe event dropped: mutator queue full', { event: event.type })
    },
    clock,
    log: log.child('probe'),
    metrics,
  })
  const activation = new ActivationWorker({
    pipeline: {
      system,
      switchPollMs: cadence.switchPollMs,
      switchTimeoutMs: cadence.switchTimeoutMs,
      realiseTimeoutMs: cadence.realiseTimeoutMs,
    },
    emit: async (rolloutId, event) => {
      await mutator!.submitReliably({ type: 'Local', rolloutId, event })
    },
    onRollbackFailed: (rolloutId, reason) =>
      void mutator!.submitReliably({ type: 'RollbackFailed', rolloutId, reason }),
    isCurrent: (rolloutId) => mutator!.isCurrent(rolloutId),
    clock,
    log: log.child('activation'),
    metrics,
  })
  const drainer = new Drainer({
    outbox,
    client,
    machineId: config.machineId,
    clock,
    log: log.child('outbound'),
    metrics,
    intervalMs: cadence.drainMs,
    backoffMaxMs: cadence.backoffMaxMs,
  })
  mutator = new AgentMutator({
    machineId: config.machineId,
    store,
    outbox,
    clock,
    log: log.child('mutator'),
    metrics,
    currentClosure: () => readCurrentClosure(system.currentSystem),
    activation,
    probes,
    kickDrainer: () => drainer.kick(),
    signedRecordFacts: (id) => manifests.signedRecordFacts(id),
  })
  const replayed = mutator.load()
  if (replayed > 0)
    log.warn('events replayed into records after an unclean stop', { events: replayed })
  const m = mutator
  refreshGauges = () => {
    drainer.refreshGauges()
    const current = readCurrentClosure(system.currentSystem)
    metrics.replace(
      M.currentClosure,
      'The closure /run/current-system names (value 1).',
      current ? [{ labels: { closure: current }, value: 1 }] : []
    )
  }
  refreshGauges()

  const heartbeat = new HeartbeatWorker({
    client,
    machineId: config.machineId,
    version: opts.version,
    currentSystem: system.currentSystem,
    clock,
    log: log.child('heartbeat'),
    metrics,
    intervalMs: cadence.heartbeatMs,
    backoffMaxMs: cadence.backoffMaxMs,
    activeRolloutId: () => m.activeRolloutId(),
    lastSeqByRollout: () => m.lastSeqByRollout(),
    reanchoredAt: () => reanchoredAt,
    lastRefusal: () => lastRefusal,
    submit: (input) => m.submit(input),
  })
  const refuse = (refusal: Refusal): void => {
    lastRefusal = { ...refusal, at: clock.now() }
    metrics.inc(M.dispatchRefusals, 'Dispatches refused, by reason.', { kind: refusal.kind })
    log.warn('dispatch refused', {
      rolloutId: refusal.rolloutId,
      kind: refusal.kind,
      reason: refusal.message,
    })
  }

  // ---- boot-recovery handshake (one heartbeat naming no rollout: the CP returns snapshots)
  const boot = await heartbeat.beat(null, { timeoutMs: BOOT_HEARTBEAT_TIMEOUT_MS, signal: stop })
  if (!boot.ok && !stop.aborted) {
    log.warn('boot heartbeat failed; continuing without control-plane snapshots', {
      reason: describeClientError(boot.error),
    })
  }
  m.recoverAll()
  log.info('agent started', {
    machineId: config.machineId,
    controlPlane: config.controlPlaneUrl,
    currentClosure: readCurrentClosure(system.currentSystem) ?? null,
    activeRollout: m.activeRolloutId() ?? null,
  })

  // ---- workers
  const loops: Promise<unknown>[] = []
  const mutatorDone = m.run()
  loops.push(activation.run(stop), drainer.run(stop), heartbeat.run(stop))
  loops.push(
    (async () => {
      let lastError: string | undefined
      while (!stop.aborted) {
        const p = await manifests.poll(stop)
        if (stop.aborted) break
        if (!p.ok && p.error !== lastError) log.warn('manifest poll failed', { reason: p.error })
        if (p.ok && lastError !== undefined) log.info('manifest poll recovered')
        lastError = p.ok ? undefined : p.error
        await sleep(cadence.manifestPollMs, stop)
      }
    })()
  )
  loops.push(
    (async () => {
      const backoff = new Backoff(DISPATCH_BACKOFF_BASE_MS, cadence.backoffMaxMs)
      let warned = false
      while (!stop.aborted) {
        const res = await client.pollDispatch(cadence.dispatchWaitSecs, {
          timeoutMs: cadence.dispatchWaitSecs * 1000 + LONG_POLL_SLACK_MS,
          signal: stop,
        })
        if (stop.aborted) break
        if (!res.ok) {
          if (!warned) log.warn('dispatch poll failed', { reason: describeClientError(res.error) })
          warned = true
          await sleep(backoff.next(), stop)
          continue
        }
        if (warned) log.info('dispatch poll recovered')
        warned = false
        backoff.reset()
        if (res.value === null) continue
        log.info('dispatch received', {
          rolloutId: res.value.rollout_id,
          target: res.value.target_closure,
        })
        const acc = await manifests.acceptDispatch(res.value, stop)
        if (stop.aborted) break
        if (!acc.ok) {
          refuse(acc.refusal)
          continue
        }
        lastRefusal = undefined
        await m.submitReliably({
          type: 'Dispatch',
          accepted: acc.value,
          receivedAt: clock.now(),
          prior: readCurrentClosure(system.currentSystem),
        })
      }
    })()
  )
  loops.push(
    (async () => {
      while (!stop.aborted) {
        await sleep(cadence.tickMs, stop)
        if (!stop.aborted) m.submit({ type: 'Tick' })
      }
    })()
  )
  if (config.renewalThresholdFraction > 0) {
    loops.push(
      new RenewalWorker({
        client,
        identity,
        machineId: config.machineId,
        certPath: config.clientCert,
        thresholdFraction: config.renewalThresholdFraction,
        checkMs: cadence.renewalCheckMs,
        clock,
        log: log.child('renewal'),
        metrics,
      }).run(stop)
    )
  }

  // ---- run until told to stop, then stop within 5 s
  await new Promise<void>((resolve) => {
    if (stop.aborted) return resolve()
    stop.addEventListener('abort', () => resolve(), { once: true })
  })
  log.info('stopping')
  probes.stop()
  m.close()
  await mutatorDone
  await Promise.race([Promise.allSettled(loops), sleep(SHUTDOWN_JOIN_MS)])
  const flush = await drainer.drainOnce(AbortSignal.timeout(SHUTDOWN_FLUSH_MS), SHUTDOWN_FLUSH_MS)
  metricsServer?.stop()
  log.info('stopped', { flushed: flush.posted, pending: outbox.depth() })
  return 0
}
