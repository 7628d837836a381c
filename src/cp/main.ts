/**
 * Wiring of the control plane: database (migrated, loaded into memory), reducer, release
 * poller, periodic workers, the Hono app and the mTLS listener — and an orderly stop.
 *
 * Start order: open + migrate the database → load state → start the reducer → re-adopt the
 * artifacts stored by the last run (re-verified now) → poll the release source once (bounded by
 * `primeTimeoutMs`) → start the cadences → listen. So the first signed fleet is verified before
 * the listener opens whenever the source answers in time.
 * Stop order (SIGTERM/SIGINT, exit 0 within 5 s): stop accepting connections and end open
 * long-polls (204) → stop workers → drain the reducer queue → close the database.
 */
import type { HttpBindings } from '@hono/node-server'
import { getRequestListener } from '@hono/node-server'
import { openStore, type Store } from '../db/store.ts'
import { highWaterKey } from '../core/release/anti-rollback.ts'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { createMtlsServer, peerIdentity, type MtlsServer, type PeerIdentity } from '../pki/tls-server.ts'
import { createApp } from './http/app.ts'
import type { AppDeps } from './http/deps.ts'
import type { Clock } from '../runtime/clock.ts'
import { systemClock } from '../runtime/clock.ts'
import { createLogger, type Logger } from '../runtime/log.ts'
import type { CpConfig } from './config.ts'
import { DispatchHub } from './dispatch-hub.ts'
import { EnrollService } from './enroll.ts'
import { CpMetrics } from './metrics.ts'
import { CpMutator } from './mutator/loop.ts'
import { ReleaseSource } from './sources/index.ts'
import { CpState } from './state.ts'
import {
  ReleasePoller,
  readTrustFile,
  verifyFleetPair,
  verifyListPair,
  verifyManifests,
  type PollContext,
} from './workers/release-poll.ts'

/** A control plane, primed and ready to listen. */
export type ControlPlane = {
  readonly app: ReturnType<typeof createApp>
  readonly state: CpState
  readonly store: Store
  readonly mutator: CpMutator
  readonly metrics: CpMetrics
  readonly poller: ReleasePoller
  readonly server: MtlsServer
  /** Resolves when a fatal error stopped the CP (the process should exit non-zero). */
  readonly fatal: Promise<unknown>
  /** Opens the mTLS listener; resolves with the bound port. */
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

// Ordinary requests finish in milliseconds and long-polls end at once on shutdown; three
// seconds leaves the reducer drain and database close inside the 5 s stop budget.
const CLOSE_GRACE_MS = 3_000
// Fine enough to see a stall of tens of milliseconds, at 20 timer callbacks a second.
const LAG_SAMPLE_MS = 50
// Used nonces only need to outlive a token's validity (24 h by default); the signed allow-list
// is the durable guard (spec protocol.md §7.2).
const NONCE_RETENTION_MS = 24 * 3600_000
// Finished rollouts are kept 90 days, the reference's retention.
const ROLLOUT_RETENTION_MS = 90 * 86_400_000

// A socket's identity cannot change (renegotiation is disabled), so it is read once per
// connection: `getPeerCertificate()` builds a whole certificate object on every call.
const identities = new WeakMap<object, PeerIdentity | null>()
function socketIdentity(req: IncomingMessage): PeerIdentity | undefined {
  const socket = req.socket as object | null
  if (socket === null) return undefined
  let id = identities.get(socket)
  if (id === undefined) identities.set(socket, (id = peerIdentity(req) ?? null))
  return id ?? undefined
}

/** Re-adopts the artifacts the last run stored, after verifying them again now. */
async function restoreAdopted(store: Store, mutator: CpMutator, ctx: PollContext): Promise<void> {
  const stored = new Map(store.release.artifacts().map((a) => [a.key, a]))
  const fleetRow = stored.get(highWaterKey('fleet'))
  if (fleetRow !== undefined) {
    const fleet = await verifyFleetPair({ bytes: fleetRow.artifact, signature: fleetRow.signature }, ctx)
    const manifests = fleet.ok
      ? await verifyManifests(
          fleet.artifact,
          async (rolloutId) => {
            const channel = rolloutId.slice(0, rolloutId.indexOf('@'))
            const row = stored.get(highWaterKey('rollout-manifest', channel))
            return row === undefined
              ? { ok: false, kind: 'Unavailable', message: `no stored manifest for ${rolloutId}` }
              : { ok: true, pair: { bytes: row.artifact, signature: row.signature } }
          },
          ctx
        )
      : {}
    if (fleet.ok) mutator.submit({ type: 'ReleaseVerified', outcome: { source: 'database', fleet, manifests } })
  }
  for (const kind of ['revocations', 'bootstrap-nonces'] as const) {
    const row = stored.get(highWaterKey(kind))
    if (row === undefined) continue
    const outcome = await verifyListPair(kind, { bytes: row.artifact, signature: row.signature }, ctx)
    if (outcome.ok) mutator.submit({ type: 'ListVerified', kind, source: 'database', outcome: outcome as never })
  }
}

/** Builds and primes a control plane from a checked configuration (call `listen` next). */
export async function createControlPlane(config: CpConfig, opts: CpOptions = {}): Promise<ControlPlane> {
  const clock = opts.clock ?? systemClock
  const log = opts.log ?? createLogger({ component: 'cp', level: config.logLevel, now: () => clock.now() })
  const store = openStore(config.dbPath)
  if (store.wasEmpty) log.info('new state database', { path: config.dbPath })
  const state = new CpState()
  state.load(store)
  const metrics = new CpMetrics()
  const hub = new DispatchHub()
  let onFatal: (e: unknown) => void = () => {}
  const fatal = new Promise<unknown>((resolve) => {
    onFatal = resolve
  })
  const mutator = new CpMutator({
    store,
    state,
    clock,
    log: log.child('reducer'),
    metrics,
    hub,
    onFatal: (e) => onFatal(e),
    options: {
      startupDispatchHoldMs: config.cadence.startupDispatchHoldMs,
      redeliverAfterMs: config.cadence.redeliverAfterMs,
      planDebounceMs: config.cadence.planDebounceMs,
      rolloutRetentionMs: ROLLOUT_RETENTION_MS,
      nonceRetentionMs: NONCE_RETENTION_MS,
    },
  })
  mutator.start()

  const source = new ReleaseSource(config.sources)
  const needsRevocations = source.hasRevocations()
  const needsNonces = source.hasBootstrapNonces()
  const isReady = (): boolean =>
    state.release !== undefined &&
    (!needsRevocations || state.revocationsAdopted !== undefined) &&
    (!needsNonces || state.noncesAdopted !== undefined)

  const trust = await readTrustFile(config.trustFile)
  if (trust.ok) {
    await restoreAdopted(store, mutator, { trust: trust.trust, now: clock.now(), freshnessWindowSecs: config.freshnessWindowSecs })
  }
  const poller = new ReleasePoller({
    source,
    trustFile: config.trustFile,
    clock,
    freshnessWindowSecs: config.freshnessWindowSecs,
    mutator,
    log: log.child('poll'),
    releaseIntervalMs: config.cadence.releasePollMs,
    listIntervalMs: config.cadence.listPollMs,
  })
  await poller.start(config.cadence.primeTimeoutMs)
  if (!isReady()) log.warn('not ready after the initial poll; /v1 answers 503 until a signed release verifies')

  // Every request waits while the one thread is busy; a lag histogram shows stalls that no
  // per-route latency (measured inside the handler) can. Unref'd: it must not keep a process up.
  let lagFrom = clock.monotonicMs()
  const lagTimer = setInterval(() => {
    const t = clock.monotonicMs()
    metrics.loopLag.observe(Math.max(0, t - lagFrom - LAG_SAMPLE_MS) / 1000)
    lagFrom = t
  }, LAG_SAMPLE_MS)
  lagTimer.unref?.()
  const timers = [
    setInterval(() => mutator.submit({ type: 'PlanTick' }), config.cadence.planIntervalMs),
    setInterval(() => mutator.submit({ type: 'Prune' }), config.cadence.pruneIntervalMs),
    lagTimer,
  ]

  const enroll = new EnrollService({
    state,
    store,
    mutator,
    clock,
    log: log.child('enroll'),
    metrics,
    trustFile: config.trustFile,
    ca: config.fleetCa,
    agentCnSuffix: config.agentCnSuffix,
    validitySecs: config.agentCertValiditySecs,
    auditLog: config.auditLog,
  })

  let server: MtlsServer | undefined
  const closing = new AbortController()
  const app = createApp({
    version: opts.version ?? 'dev',
    clock,
    log: log.child('http'),
    metrics,
    state,
    store,
    mutator,
    hub,
    enroll,
    poller,
    identify: opts.identify ?? ((c) => socketIdentity((c.env as HttpBindings).incoming)),
    isReady,
    closing: closing.signal,
    config: {
      agentCnSuffix: config.agentCnSuffix,
      strict: config.strict,
      closureUpstream: config.closureUpstream,
      webhookToken: async () => {
        if (config.webhookTokenFile === undefined) return undefined
        try {
          const t = (await Bun.file(config.webhookTokenFile).text()).trim()
          return t === '' ? undefined : t
        } catch {
          return undefined
        }
      },
    },
  })
  server = createMtlsServer({
    certPem: config.tls.certPem,
    keyPem: config.tls.keyPem,
    caPem: config.tls.clientCaPem,
    handler: getRequestListener(app.fetch, { overrideGlobalObjects: opts.lightweightResponses === true }),
    closeGraceMs: CLOSE_GRACE_MS,
  })
  // Responses are written in more than one segment (headers, then the body); with Nagle on, the
  // second waits for the client's delayed ACK (~40 ms). Agents' requests are latency-bound.
  server.httpServer.on('connection', (socket: Socket) => socket.setNoDelay?.(true))
  server.closing.addEventListener('abort', () => {
    closing.abort()
    hub.close()
  })

  const phaseCount = (): Map<string, number> => {
    const m = new Map<string, number>()
    for (const records of Object.values(state.hosts)) for (const r of Object.values(records)) m.set(r.phase, (m.get(r.phase) ?? 0) + 1)
    return m
  }
  metrics.gauge('nixfleet_cp_hosts', 'Live host records by state.', () => [...phaseCount()].map(([state, n]) => [{ state }, n] as const))
  metrics.gauge('nixfleet_cp_rollouts', 'Rollouts by state.', () => {
    const m = new Map<string, number>()
    for (const r of state.rollouts.values()) m.set(r.record.phase, (m.get(r.record.phase) ?? 0) + 1)
    return [...m].map(([s, n]) => [{ state: s }, n] as const)
  })
  metrics.gauge('nixfleet_cp_dispatch_queue_depth', 'Queued, undelivered dispatches.', () => [[{}, state.dispatchDepth()]])
  metrics.gauge('nixfleet_cp_reducer_queue_depth', 'Inputs waiting for the reducer.', () => [[{}, mutator.depth]])
  metrics.gauge('nixfleet_cp_long_polls', 'Open dispatch long-polls.', () => [[{}, hub.size()]])
  metrics.gauge(
    'nixfleet_cp_long_polls_paced',
    'Long-polls past their deadline whose 204 waits for the pacer (after a stall).',
    () => [[{}, hub.pacedBacklog()]]
  )
  metrics.gauge('nixfleet_cp_connections', 'Open client connections.', () => [[{}, server?.connectionCount() ?? 0]])
  metrics.gauge('nixfleet_cp_gate_blocks', 'Hosts currently held by a gate, by gate.', () => {
    const m = new Map<string, number>()
    for (const g of state.gateBlocks.values()) m.set(g.gate, (m.get(g.gate) ?? 0) + 1)
    return [...m].map(([gate, n]) => [{ gate }, n] as const)
  })
  metrics.gauge('nixfleet_cp_ready', 'Whether the control plane answers /v1 (1) or 503 (0).', () => [[{}, isReady() ? 1 : 0]])

  const listen = async (): Promise<number> => {
    const { port } = await server!.listen(config.listen.host, config.listen.port)
    log.info('listening', { host: config.listen.host, port, ready: isReady() })
    return port
  }

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const t of timers) clearInterval(t)
      await server!.close()
      await poller.stop()
      await mutator.stop()
      store.close()
      log.info('stopped')
    })()
    return stopping
  }
  return { app, state, store, mutator, metrics, poller, server, fatal, listen, stop }
}
