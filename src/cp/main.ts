/**
 * Wiring of the control plane: database (migrated, loaded into memory), the mutator, the release
 * poller, the periodic workers, the Hono app and the mTLS listener — and an orderly stop. Only
 * wiring: what each part does lives in its own module (`mutator/`, `workers/`, `http/`).
 *
 * Start order: load the TLS material and bind the listener (a start-up failure — address in use,
 * unusable key — is a `CpStartError` before anything else exists) → open + migrate the database →
 * load state → start the mutator → re-adopt the artifacts stored by the last run (re-verified
 * now) → poll the release source once (bounded by `primeTimeoutMs`) → start the cadences →
 * serve (`listen()`). Until then the bound listener answers 503 + Retry-After, so the first
 * signed fleet is verified before any request is served whenever the source answers in time.
 * A start that fails part-way closes what it opened, so nothing keeps the process alive.
 * Stop order (SIGTERM/SIGINT, exit 0 within 5 s): stop accepting connections and end open
 * long-polls (204) → stop workers → drain the mutator queue → close the database.
 * Fatal: a failed database write (the mutator stops and settles every wait on it) or the
 * database file deleted or replaced under the running CP resolves `fatal` after one error line
 * naming the database; the caller stops the CP and exits non-zero.
 * Replicas (a postgres:// database): the steps from "load state" on run when this process takes
 * the lead (`replica/replica.ts`); until then it follows, serving from the state it rebuilds
 * after the leader's commits. Losing the lead is fatal like a failed write.
 */
import { hostname } from 'node:os'
import type { Store } from '../db/store.ts'
import type { MtlsServer } from '../pki/tls-server.ts'
import type { Clock } from '../runtime/clock.ts'
import { systemClock } from '../runtime/clock.ts'
import { createLogger, type Logger, redactConfig } from '../runtime/log.ts'
import { type ExpositionServer, serveExposition } from '../runtime/prometheus.ts'
import { cacheBase } from '../runtime/binary-cache.ts'
import { repeatLog } from '../runtime/repeat-log.ts'
import { systemTimers } from '../runtime/timers.ts'
import { cpLimits, heartbeatIntervalMsOf, webhookTokenReader, type CpConfig } from './config.ts'
import { DispatchHub } from './dispatch-hub.ts'
import { EnrollService } from './enroll.ts'
import { registerGauges } from './gauges.ts'
import { createApp } from './http/app.ts'
import type { AppDeps } from './http/deps.ts'
import { peerOf } from './http/server.ts'
import { bindListener, certExpiries } from './listener.ts'
import { CpMetrics } from './metrics.ts'
import { CpMutator } from './mutator/loop.ts'
import { ReleaseSource } from './sources/index.ts'
import { openStateDatabase, type StateDatabase } from './database.ts'
import { CpStartError, messageOf } from './start-error.ts'
import type { CommittingPort } from './replica/mutator-port.ts'
import { Replica } from './replica/replica.ts'
import { CpState } from './state.ts'
import { watchDatabaseFile } from './workers/db-watch.ts'
import type { Worker } from './workers/every.ts'
import { startClosureCheck } from './workers/closure-check.ts'
import { startLoopLag } from './workers/loop-lag.ts'
import { startPlanTick } from './workers/plan-tick.ts'
import { startPrune } from './workers/prune.ts'
import { ReleasePoller } from './workers/release-poll.ts'
import { restoreAdopted } from './workers/restore.ts'

/** A control plane, primed and ready to listen. */
export type ControlPlane = {
  readonly app: ReturnType<typeof createApp>
  readonly state: CpState
  readonly store: Store
  readonly mutator: CpMutator
  /** This process's place among replicas sharing a PostgreSQL database (none on SQLite). */
  readonly replica: Replica | undefined
  readonly metrics: CpMetrics
  readonly poller: ReleasePoller
  readonly server: MtlsServer
  /** Resolves when a fatal error stopped the CP (the process should exit non-zero). */
  readonly fatal: Promise<unknown>
  /** Serves on the listener bound at creation; resolves with its port. */
  listen(): Promise<number>
  stop(): Promise<void>
}

/** Options of `createControlPlane`. */
export type CpOptions = {
  readonly clock?: Clock
  readonly log?: Logger
  readonly version?: string
  /** Replaces the peer-certificate lookup (route tests through `app.request()` only). */
  readonly identify?: AppDeps['identify']
  /**
   * Lets `@hono/node-server` replace the process's global `Request`/`Response` with its
   * lightweight ones, which it writes to the socket directly instead of through a
   * ReadableStream per response. For a process that is only a control plane (the CLI command);
   * tests that run other servers in the same process keep the runtime's own.
   */
  readonly lightweightResponses?: boolean
}

// A used nonce is kept until its token expires, and at least this long (the default token
// validity); the signed allow-list is the durable guard (spec protocol.md §7.2).
const NONCE_RETENTION_MS = 24 * 3600_000
// Finished rollouts are kept 90 days, the reference's retention.
const ROLLOUT_RETENTION_MS = 90 * 86_400_000

export { CpStartError } from './start-error.ts'

/**
 * Builds and primes a control plane from a checked configuration, its listener bound (call
 * `listen` to serve). Throws `CpStartError` when the listener or the database cannot be opened.
 */
export async function createControlPlane(
  config: CpConfig,
  opts: CpOptions = {}
): Promise<ControlPlane> {
  const clock = opts.clock ?? systemClock
  const log =
    opts.log ?? createLogger({ component: 'cp', level: config.logLevel, now: () => clock.now() })
  const limits = cpLimits(config.limits)
  const metrics = new CpMetrics()
  log.info('control plane starting', {
    version: opts.version ?? 'dev',
    pid: process.pid,
    config: redactConfig(config),
  })
  // Out of descriptors, every accept fails: one line per interval, counted.
  const listenerErrors = repeatLog({
    log: log.child('http'),
    intervalMs: limits.refusalLogIntervalMs,
    now: () => clock.monotonicMs(),
    onSuppressed: () => metrics.logSuppressed.inc(),
  })
  const listener = await bindListener(config, opts.lightweightResponses === true, {
    limits,
    onRefused: (reason) => metrics.connectionsRefused.inc({ reason }),
    onListenerError: (err) =>
      listenerErrors('warn', err.message, 'accepting a connection failed; still listening', {
        error: err.message,
      }),
  })
  const { server } = listener
  let replica: Replica | undefined
  let db: StateDatabase
  try {
    db = await openStateDatabase(config, clock, log, () => replica?.fence() ?? -1)
  } catch (e) {
    await server.close()
    throw e
  }
  const { store } = db
  const { promise: fatal, resolve: resolveFatal } = Promise.withResolvers<unknown>()
  const onFatal = (error: unknown): void => {
    log.error('state database failed; the control plane stops (restart rebuilds from it)', {
      db: db.where,
      error: messageOf(error),
    })
    resolveFatal(error)
  }
  const state = new CpState()
  state.freshnessWindowSecs = config.freshnessWindowSecs
  const closureCache = config.closureCheckUrl ?? config.closureUpstream
  state.closures.cache = closureCache === undefined ? undefined : cacheBase(closureCache)
  // Real time with real timers: the pacer's clock must be the one its timers run on.
  const hub = new DispatchHub({ clock: systemClock, timers: systemTimers })
  const mutator = new CpMutator({
    store,
    state,
    clock,
    log: log.child('reducer'),
    metrics,
    hub,
    onFatal,
    options: {
      startupDispatchHoldMs: config.cadence.startupDispatchHoldMs,
      redeliverAfterMs: config.cadence.redeliverAfterMs,
      planDebounceMs: config.cadence.planDebounceMs,
      rolloutRetentionMs: ROLLOUT_RETENTION_MS,
      nonceRetentionMs: NONCE_RETENTION_MS,
      refusalLogIntervalMs: limits.refusalLogIntervalMs,
      probeResultsKept: limits.probeResultsKept,
      heartbeatIntervalMs: config.cadence.heartbeatIntervalMs,
      // Followers know a host's last-seen only from the database.
      ...(db.kind === 'postgres'
        ? { lastSeenWriteMs: heartbeatIntervalMsOf(config.cadence.heartbeatIntervalMs) }
        : {}),
    },
  })
  const restoreOptions = {
    trustFile: config.trustFile,
    clock,
    freshnessWindowSecs: config.freshnessWindowSecs,
  }
  if (db.kind === 'postgres')
    replica = new Replica({
      id: config.replicaId ?? `${hostname()}:${process.pid}`,
      pg: db.pg,
      store: db.store,
      state,
      hub,
      mutator,
      log,
      metrics,
      restore: restoreOptions,
      onFatal,
    })
  // What handlers and the poller submit to: this process's mutator, or a replica's port (the
  // leader's mutator through PostgreSQL until this replica leads).
  const port: CommittingPort = replica?.port ?? mutator
  const replicaFigures = replica === undefined ? undefined : replica.figures.bind(replica)
  const source = new ReleaseSource(config.sources)
  const poller = new ReleasePoller({
    source,
    trustFile: config.trustFile,
    clock,
    freshnessWindowSecs: config.freshnessWindowSecs,
    mutator: port,
    log: log.child('poll'),
    releaseIntervalMs: config.cadence.releasePollMs,
    listIntervalMs: config.cadence.listPollMs,
  })
  const workers: Worker[] = []
  let metricsServer: ExpositionServer | undefined

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      metricsServer?.stop()
      for (const w of workers) w.stop()
      await server.close()
      await poller.stop()
      await replica?.stop()
      await mutator.stop()
      // A PostgreSQL store closes its pool after its last commit.
      if (db.kind === 'postgres') await db.store.close()
      else store.close()
      log.info('stopped')
    })()
    return stopping
  }

  const needs = { revocations: source.hasRevocations(), nonces: source.hasBootstrapNonces() }
  const isReady = (): boolean => state.isReady(needs)
  // What only the process that runs the mutator does: at start for one SQLite control plane,
  // when it takes the lead for a replica.
  const lead = async (): Promise<Record<string, number>> => {
    const began = clock.monotonicMs()
    if (replica === undefined) await state.load(store)
    else {
      // Taken as a restart would: the database's state, the stored release restored below (what
      // this follower verified of the same rows within the last minute is not verified again).
      // What this follower verified from the same rows stays adopted meanwhile, so the replica
      // never answers 503 while it takes the lead (its agents would move to another replica).
      const { release, revocationsAdopted, noncesAdopted, nonces } = state
      const fresh = new CpState()
      await fresh.load(store)
      state.takeDurable(fresh)
      Object.assign(state, { release, revocationsAdopted, noncesAdopted, nonces })
    }
    const loaded = clock.monotonicMs()
    mutator.start()
    await restoreAdopted(store, mutator, restoreOptions, replica?.verifiedCache)
    const restored = clock.monotonicMs()
    // A replica that followed serves its release already: its first poll need not be awaited.
    const following = replica !== undefined && state.release !== undefined
    await poller.start(following ? 0 : config.cadence.primeTimeoutMs)
    workers.push(
      startPlanTick(mutator, config.cadence.planIntervalMs),
      startPrune(mutator, config.cadence.pruneIntervalMs)
    )
    if (closureCache !== undefined)
      workers.push(startClosureCheck({ state, mutator, clock }, cacheBase(closureCache)))
    // How long each step took (a replica's `leading` line: where a failover's time goes).
    return {
      loadMs: Math.round(loaded - began),
      restoreMs: Math.round(restored - loaded),
      pollMs: Math.round(clock.monotonicMs() - restored),
    }
  }
  try {
    if (replica === undefined) await lead()
    else await replica.start(lead)
  } catch (e) {
    await stop()
    // A page found corrupt while loading is the database's fault too: name the file.
    if ((e as { name?: unknown } | null)?.name === 'SQLiteError')
      throw new CpStartError(`database ${db.where}: ${messageOf(e)}`)
    throw e
  }
  if (!isReady())
    log.warn('not ready after the initial poll; /v1 answers 503 until a signed release verifies')

  workers.push(startLoopLag(clock, metrics))
  if (db.kind === 'sqlite') workers.push(watchDatabaseFile(db.path, onFatal))
  if (closureCache !== undefined)
    log.info('closure availability check on: hosts wait until their closure is in the cache', {
      cache: cacheBase(closureCache),
    })
  else
    log.info(
      'closure availability check off (no --closure-check-url or --closure-upstream): hosts are dispatched without checking the cache'
    )

  const enroll = new EnrollService({
    state,
    store,
    mutator: port,
    clock,
    log: log.child('enroll'),
    metrics,
    trustFile: config.trustFile,
    ca: config.fleetCa,
    agentCnSuffix: config.agentCnSuffix,
    validitySecs: config.agentCertValiditySecs,
    auditLog: config.auditLog,
    dbLostAt: db.dbLostAt,
  })

  const closing = new AbortController()
  const app = createApp({
    version: opts.version ?? 'dev',
    clock,
    log: log.child('http'),
    metrics,
    state,
    store,
    mutator: port,
    hub,
    enroll,
    poller,
    identify: opts.identify ?? peerOf,
    isReady,
    ...(replicaFigures === undefined ? {} : { replica: replicaFigures }),
    closing: closing.signal,
    config: {
      agentCnSuffix: config.agentCnSuffix,
      heartbeatIntervalMs: config.cadence.heartbeatIntervalMs,
      strict: config.strict,
      accessLog: config.accessLog === true,
      closureUpstream: config.closureUpstream,
      events: {
        perMinute: limits.eventsPerMinute,
        burst: limits.eventBurst,
        fieldBytes: limits.eventFieldBytes,
        eventBytes: limits.eventBytes,
      },
      webhookToken: webhookTokenReader(config.webhookTokenFile),
    },
  })
  server.closing.addEventListener('abort', () => {
    closing.abort()
    hub.close()
  })
  registerGauges(metrics, {
    state,
    hub,
    mutatorDepth: () => port.depth,
    connections: () => server.connectionCount(),
    isReady,
    version: opts.version ?? 'dev',
    now: () => clock.now(),
    heartbeatIntervalMs: heartbeatIntervalMsOf(config.cadence.heartbeatIntervalMs),
    certNotAfter: certExpiries(config),
    replica: replicaFigures,
  })

  const listen = (): Promise<number> => {
    listener.serve(app.fetch)
    log.info('listening', { host: config.listen.host, port: listener.port, ready: isReady() })
    if (config.metricsListen !== undefined) {
      const { host, port } = config.metricsListen
      try {
        metricsServer = serveExposition({ hostname: host, port }, () => metrics.render())
        log.info('metrics listening', { host, port: metricsServer.port })
      } catch (e) {
        // The fleet is served either way; a scrape target that cannot bind is only logged.
        log.error('metrics listener failed', { host, port, error: messageOf(e) })
      }
    }
    return Promise.resolve(listener.port)
  }
  return { app, state, store, mutator, replica, metrics, poller, server, fatal, listen, stop }
}
