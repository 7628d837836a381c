/**
 * What the control plane's HTTP app needs from the rest of the CP, as one object handed to
 * `createApp`. Handlers read `state` synchronously and change nothing except by submitting to
 * the mutator; the transport identity comes in through `identify`, so route tests can run
 * through `app.request()` without sockets while the server reads the peer certificate.
 */
import type { Context } from 'hono'
import type { CpMetrics } from '../metrics.ts'
import type { DispatchHub } from '../dispatch-hub.ts'
import type { CommittingPort } from '../replica/mutator-port.ts'
import type { ReplicaFigures } from './views/operator.ts'
import type { CpState } from '../state.ts'
import type { EnrollService } from '../enroll.ts'
import type { Store } from '../../db/store.ts'
import type { PeerIdentity } from '../../pki/tls-server.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import type { FetchedPair } from '../sources/index.ts'

/** The authenticated caller of a request, as routes see it. */
export type Caller = {
  readonly cn: string
  readonly role: 'agent' | 'operator' | 'viewer'
  /** The machine id of an agent (`agent-<id>.<suffix>`); the CN for operators and viewers. */
  readonly name: string
  readonly notBeforeMs: number
}

/** The Hono environment of the CP app. */
export type CpEnv = { Variables: { caller: Caller } }

/** The dependencies of the CP app. */
export type AppDeps = {
  readonly version: string
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: CpMetrics
  readonly state: CpState
  readonly store: Store
  readonly mutator: CommittingPort
  readonly hub: DispatchHub
  readonly enroll: EnrollService
  readonly poller: {
    refresh(): Promise<void>
    manifestOnDemand(
      rolloutId: string
    ): Promise<{ ok: true; pair: FetchedPair } | { ok: false; status: 404 | 502; message: string }>
  }
  /** The verified client certificate of a request, if any. */
  readonly identify: (c: Context) => PeerIdentity | undefined
  /** Whether the CP may answer `/v1/*` (first release adopted, lists primed when configured). */
  readonly isReady: () => boolean
  /** This replica's id, role and epoch, when control planes share one PostgreSQL. */
  readonly replica?: () => ReplicaFigures
  /** Aborted when the server starts shutting down (long-polls answer 204 at once). */
  readonly closing: AbortSignal
  readonly config: {
    readonly agentCnSuffix: string
    /** The agents' heartbeat interval (offline hosts in the host views); default 60 s. */
    readonly heartbeatIntervalMs?: number | undefined
    readonly strict: boolean
    /** Log every request at info (`--access-log`). */
    readonly accessLog?: boolean
    /** The bearer token of `POST /v1/webhook/refresh`, read fresh per request; undefined = off. */
    readonly webhookToken: () => Promise<string | undefined>
    readonly closureUpstream: string | undefined
    /** What one host may store through its events (`event-limits.ts`). */
    readonly events: {
      readonly perMinute: number
      readonly burst: number
      readonly fieldBytes: number
      readonly eventBytes: number
    }
  }
}
