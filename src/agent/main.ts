/**
 * The agent daemon's wiring (spec runtime.md §6): start-up checks, enrollment, state, the single
 * mutator and the workers around it, the boot-recovery handshake, and a bounded shutdown. No
 * decisions are taken here; each part owns its own (see the modules named below).
 *
 * Start: the start-up checks (`startup.ts`) come first; any problem is one clear line and a
 * non-zero exit before any work is accepted. Then: metrics listener (optional), enrollment
 * (first boot), persisted records and outbox (crash replay), cached manifests, one heartbeat
 * without a rollout id (bootstrap snapshots), local recovery, and the workers (`workers/`).
 * Stop (SIGTERM): no new work is taken, probes and polls are cancelled, the mutator drains its
 * queue, one last best-effort flush of the outbox runs, and the process exits within 5 s. A
 * switch already fired keeps running under systemd; the next start completes it.
 */
import { systemClock, type Clock } from '../runtime/clock.ts'
import { createLogger, redactConfig } from '../runtime/log.ts'
import type { Logger } from '../runtime/log.ts'
import { readCurrentClosure } from './activation.ts'
import { AnchorStore } from './anchors.ts'
import { serveClosureProxy } from './closure-proxy.ts'
import { type AgentConfig, agentFreshnessWindowSecs } from './config.ts'
import { AgentClient, describeClientError } from './cp-client.ts'
import { enroll, EnrollmentError } from './enroll.ts'
import { HostStore } from './host-store.ts'
import { readHostPublicKey } from './identity.ts'
import { ManifestCache } from './manifests/cache.ts'
import { declareAgentMetrics, M, Metrics, serveMetrics, type MetricsServer } from './metrics.ts'
import { AgentMutator } from './mutator/loop.ts'
import { Outbox } from './outbox.ts'
import { HostProblems } from './problems.ts'
import { AgentStartError, prepareAgent } from './startup.ts'
import { sleep, systemTimers } from './timing.ts'
import { ActivationWorker } from './workers/activation.ts'
import { DispatchPoller } from './workers/dispatch-poll.ts'
import { Drainer } from './workers/drainer.ts'
import { BOOT_HEARTBEAT_TIMEOUT_MS, HeartbeatWorker } from './workers/heartbeat.ts'
import { runManifestPoll } from './workers/manifest-poll.ts'
import { PrefetchWorker } from './workers/prefetch.ts'
import { ProbeWorker } from './workers/probes.ts'
import { RenewalWorker } from './workers/renewal.ts'
import { runTicker } from './workers/tick.ts'

export { AgentStartError, checkAgentConfig, prepareAgent } from './startup.ts'

// Shutdown: the whole stop sequence must fit in 5 s (systemd's TimeoutStopSec budget); the
// final outbox flush gets 2 s of it and the workers 1.5 s to notice cancellation.
const SHUTDOWN_FLUSH_MS = 2_000
const SHUTDOWN_JOIN_MS = 1_500
// The local events after which /run/current-system names another closure.
const SWITCHES: ReadonlySet<string> = new Set([
  'LocalActivationCompleted',
  'LocalRollbackCompleted',
])

/** Options of a daemon run. */
export type RunOptions = {
  readonly version: string
  /** Aborted on SIGTERM/SIGINT. */
  readonly shutdown: AbortSignal
  readonly clock?: Clock
  readonly log?: Logger
}

/** Starts the metrics listener, if configured. */
function startMetrics(
  config: AgentConfig,
  metrics: Metrics,
  refresh: () => void,
  log: Logger
): MetricsServer | undefined {
  const listen = config.metricsListen
  if (!listen) return undefined
  let server: MetricsServer
  try {
    server = serveMetrics(metrics, listen, refresh)
  } catch (e) {
    throw new AgentStartError(
      `cannot listen for metrics on ${listen.hostname}:${listen.port}: ${e instanceof Error ? e.message : String(e)}`
    )
  }
  log.info('metrics listening', { hostname: listen.hostname, port: server.port })
  return server
}

/** Runs the agent until `shutdown` aborts; returns the exit code. */
export async function runAgent(config: AgentConfig, opts: RunOptions): Promise<number> {
  const clock = opts.clock ?? systemClock
  const log = opts.log ?? createLogger({ component: 'agent', level: config.logLevel })
  log.info('agent starting', {
    version: opts.version,
    pid: process.pid,
    config: redactConfig(config),
  })
  const { identity, trust } = prepareAgent(config, log)
  const metrics = new Metrics()
  declareAgentMetrics(metrics, opts.version)
  const workers = new AbortController()
  const stop = workers.signal
  opts.shutdown.addEventListener('abort', () => workers.abort(), { once: true })

  const client = new AgentClient({
    baseUrls: config.controlPlaneUrls,
    identity: () => identity.tls(),
    userAgent: `nixfleet-agent/${opts.version}`,
    failover: {
      capMs: config.cadence.backoffMaxMs,
      log: log.child('control-plane'),
      metrics,
    },
  })
  const { cadence, system } = config
  const currentClosure = (): string | undefined => readCurrentClosure(system.currentSystem)
  let refreshGauges = (): void => {}
  const metricsServer = startMetrics(config, metrics, () => refreshGauges(), log)
  const closureProxy =
    config.closureProxyListen === undefined
      ? undefined
      : serveClosureProxy({
          listen: config.closureProxyListen,
          client,
          storeDir: system.nixStoreDir,
          log: log.child('closure-proxy'),
        })

  // Read before enrolling: a host that enrolls now has never accepted a signed artifact.
  const firstBoot = !identity.enrolled
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
    closureProxy?.stop()
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
  if (anchors.unreadableReason !== undefined)
    log.error('anti-rollback marks unreadable; the next verified artifacts re-anchor them', {
      reason: anchors.unreadableReason,
    })
  const problems = new HostProblems({
    stateDir: config.stateDir,
    clock,
    log: log.child('problems'),
    metrics,
  })
  const outbox = new Outbox(config.stateDir)
  const swept = outbox.sweep()
  if (swept > 0) log.info('torn outbox writes removed', { files: swept })
  const store = new HostStore(config.stateDir)
  let reanchoredAt = anchors.reanchoredAt
  const manifests = new ManifestCache({
    client,
    trust,
    anchors,
    stateDir: config.stateDir,
    machineId: config.machineId,
    freshnessWindowSecs: agentFreshnessWindowSecs(config),
    clock,
    log: log.child('manifest'),
    metrics,
    onReanchor: (at) => {
      reanchoredAt = at
    },
    firstBoot,
  })
  await manifests.loadFromDisk()

  // ---- the mutator and the workers it drives (their callbacks run only once it exists)
  const probes = new ProbeWorker({
    configPath: config.healthChecksConfig,
    context: {
      machineId: config.machineId,
      hostPublicKey: () => readHostPublicKey(config.sshHostKeyFile),
    },
    emit: (rolloutId, event) => {
      if (!mutator.submit({ type: 'Local', rolloutId, event }))
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
      timers: systemTimers,
    },
    emit: async (rolloutId, event) => {
      await mutator.submitReliably({ type: 'Local', rolloutId, event })
      // After the event is in the record (the heartbeat's seqs count it, so the CP does not
      // synthesize it): tell the CP the new closure now rather than within the interval.
      if (SWITCHES.has(event.type)) heartbeat.kick()
    },
    onRollbackFailed: (rolloutId, reason) =>
      void mutator.submitReliably({ type: 'RollbackFailed', rolloutId, reason }),
    isCurrent: (rolloutId) => mutator.isCurrent(rolloutId),
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
  const mutator: AgentMutator = new AgentMutator({
    machineId: config.machineId,
    store,
    outbox,
    clock,
    log: log.child('mutator'),
    metrics,
    currentClosure,
    activation,
    probes,
    kickDrainer: () => drainer.kick(),
    problems,
    signedRecordFacts: (id) => manifests.signedRecordFacts(id),
  })
  const replayed = mutator.load()
  if (replayed > 0)
    log.warn('events replayed into records after an unclean stop', { events: replayed })
  refreshGauges = () => {
    drainer.refreshGauges()
    const current = currentClosure()
    metrics.replace(
      M.currentClosure,
      'The closure /run/current-system names (value 1).',
      current ? [{ labels: { closure: current }, value: 1 }] : []
    )
  }
  refreshGauges()

  const dispatches = new DispatchPoller({
    client,
    manifests,
    waitSecs: cadence.dispatchWaitSecs,
    backoffMaxMs: cadence.backoffMaxMs,
    currentClosure,
    submit: (input) => mutator.submitReliably(input),
    clock,
    log,
    metrics,
  })
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
    activeRolloutId: () => mutator.activeRolloutId(),
    lastSeqByRollout: () => mutator.lastSeqByRollout(),
    reanchoredAt: () => reanchoredAt,
    lastRefusal: () => dispatches.lastRefusal,
    localProblem: () => problems.current(),
    prefetched: () => prefetch?.prefetched,
    submit: (input) => mutator.submit(input),
  })
  const prefetch = config.prefetch
    ? new PrefetchWorker({
        target: () =>
          manifests.view()?.manifest?.value.hostSet.find((h) => h.hostname === config.machineId)
            ?.targetClosure,
        currentClosure,
        nixStore: system.nixStore,
        nixStoreDir: system.nixStoreDir,
        realiseTimeoutMs: cadence.realiseTimeoutMs,
        // A new manifest is seen at the poll's pace; looking more often would find nothing new.
        intervalMs: Math.min(cadence.manifestPollMs, 5_000),
        retryMs: 10 * 60_000,
        monotonicMs: () => clock.monotonicMs(),
        onPrefetched: () => heartbeat.kick(),
        log: log.child('prefetch'),
        metrics,
      })
    : undefined

  // ---- boot-recovery handshake (one heartbeat naming no rollout: the CP returns snapshots)
  const boot = await heartbeat.beat(null, { timeoutMs: BOOT_HEARTBEAT_TIMEOUT_MS, signal: stop })
  if (!boot.ok && !stop.aborted) {
    log.warn('boot heartbeat failed; continuing without control-plane snapshots', {
      reason: describeClientError(boot.error),
    })
  }
  mutator.recoverAll()
  log.info('agent started', {
    machineId: config.machineId,
    controlPlane: client.endpoints.currentUrl,
    controlPlanes: config.controlPlaneUrls.length,
    currentClosure: currentClosure() ?? null,
    activeRollout: mutator.activeRolloutId() ?? null,
  })

  // ---- workers
  const mutatorDone = mutator.run()
  // No worker loop may end on an error (a full state directory): each runs supervised.
  const supervised = (worker: string, run: (signal: AbortSignal) => Promise<unknown>) =>
    problems.supervise(worker, run, cadence.backoffMaxMs, stop)
  const loops: Promise<unknown>[] = [
    supervised('activation', (s) => activation.run(s)),
    supervised('drainer', (s) => drainer.run(s)),
    supervised('heartbeat', (s) => heartbeat.run(s)),
    supervised('manifest-poll', (s) =>
      runManifestPoll(
        { poll: (signal) => manifests.poll(signal), intervalMs: cadence.manifestPollMs, log },
        s
      )
    ),
    supervised('dispatch-poll', (s) => dispatches.run(s)),
    ...(prefetch ? [supervised('prefetch', (s) => prefetch.run(s))] : []),
    supervised('tick', (s) =>
      runTicker(
        { intervalMs: cadence.tickMs, submitTick: () => mutator.submit({ type: 'Tick' }) },
        s
      )
    ),
  ]
  if (config.renewalThresholdFraction > 0) {
    const renewal = new RenewalWorker({
      client,
      identity,
      machineId: config.machineId,
      certPath: config.clientCert,
      thresholdFraction: config.renewalThresholdFraction,
      checkMs: cadence.renewalCheckMs,
      clock,
      log: log.child('renewal'),
      metrics,
    })
    loops.push(supervised('renewal', (s) => renewal.run(s)))
  }

  // ---- run until told to stop, then stop within 5 s
  await new Promise<void>((resolve) => {
    if (stop.aborted) return resolve()
    stop.addEventListener('abort', () => resolve(), { once: true })
  })
  log.info('stopping')
  probes.stop()
  mutator.close()
  await mutatorDone
  await Promise.race([Promise.allSettled(loops), sleep(SHUTDOWN_JOIN_MS)])
  const flush = await drainer.drainOnce(AbortSignal.timeout(SHUTDOWN_FLUSH_MS), SHUTDOWN_FLUSH_MS)
  metricsServer?.stop()
  closureProxy?.stop()
  log.info('stopped', { flushed: flush.posted, pending: outbox.depth() })
  return 0
}
