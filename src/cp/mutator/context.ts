/**
 * What every input handler of the CP mutator works with: the state and database it changes, the
 * applier that turns core effects into rows, and the time of the input being applied. One
 * `BatchContext` lives as long as the mutator; the loop sets `now` before each input.
 * Invariants: handlers run synchronously inside the batch's transaction (no await); they only
 * write to `store` and never read it (what they decide on is in `state`; the store may buffer
 * writes until the commit, so a read would not see them); `now` is read from the clock once per
 * input, so every row an input writes carries the same time.
 */
import type { AdmissionPolicy } from '../../core/index.ts'
import type { Store } from '../../db/store.ts'
import type { Logger } from '../../runtime/log.ts'
import type { RepeatLog } from '../../runtime/repeat-log.ts'
import type { Applier } from '../applier.ts'
import type { CpMetrics } from '../metrics.ts'
import type { CpState } from '../state.ts'

/** Mutator tunables (all with sizing reasons at their defaults in `config.ts`). */
export type MutatorOptions = {
  /** How long after start a host that has not heartbeated yet is held back from dispatch. */
  readonly startupDispatchHoldMs: number
  /** How long a delivered but unacknowledged dispatch waits before it is queued again. */
  readonly redeliverAfterMs: number
  /** The delay between a state change and the plan pass it triggers (coalesces bursts). */
  readonly planDebounceMs: number
  /** How long finished rollouts are kept before they are pruned. */
  readonly rolloutRetentionMs: number
  /** How long used bootstrap nonces are remembered (the signed allow-list is the durable guard). */
  readonly nonceRetentionMs: number
  /** Identical refusals of a host's input are logged once per this interval, with a count. */
  readonly refusalLogIntervalMs: number
  /** Probe results kept per host and rollout in the event log. */
  readonly probeResultsKept: number
  /** The agents' heartbeat interval (host problems in gate sentences); default 60 s. */
  readonly heartbeatIntervalMs?: number | undefined
  /** How often a host's durable last-seen is refreshed (default 5 min; replicas: the interval). */
  readonly lastSeenWriteMs?: number | undefined
}

/** What a handler sees. */
export type MutatorContext = {
  readonly store: Store
  readonly state: CpState
  readonly log: Logger
  /** For lines a host can provoke at will (refusals): identical ones once per interval. */
  readonly refusals: RepeatLog
  readonly metrics: CpMetrics
  readonly applier: Applier
  readonly options: MutatorOptions
  /** When the CP started and its dispatch delays (core's dispatch admission). */
  readonly admission: AdmissionPolicy
  /** The wall time of the input being applied (epoch ms). */
  readonly now: number
  /** Notes a change the planner should see: a plan pass follows the commit (debounced). */
  markDirty(): void
  /** Runs `fn` in a savepoint; rows the applier batched (grouped gate decisions) are written before it is released. */
  tx<T>(fn: () => T): T
}

/** The context the loop hands every handler. */
export class BatchContext implements MutatorContext {
  now = 0
  /** Whether an input since the last commit called `markDirty`. */
  dirty = false
  readonly admission: AdmissionPolicy

  constructor(
    readonly store: Store,
    readonly state: CpState,
    readonly log: Logger,
    readonly refusals: RepeatLog,
    readonly metrics: CpMetrics,
    readonly applier: Applier,
    readonly options: MutatorOptions,
    startedAt: number
  ) {
    this.admission = {
      startedAt,
      startupDispatchHoldMs: options.startupDispatchHoldMs,
      redeliverAfterMs: options.redeliverAfterMs,
    }
  }

  markDirty(): void {
    this.dirty = true
  }

  tx<T>(fn: () => T): T {
    return this.store.transaction(() => {
      const result = fn()
      this.applier.flushGateGroups(this.now)
      return result
    })
  }
}
