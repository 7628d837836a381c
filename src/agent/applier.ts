/**
 * The agent applier: turns the effects of host steps into I/O — outbox files, host-record files,
 * activation intents, probe restarts, metrics and logs. Called only by the mutator; it never
 * calls `step` (the events a probe restart produces go back to the mutator to apply).
 *
 * Invariants (do not change without updating docs/agent.md):
 * - Persistence order per step: the emitted events are written to the outbox (fsync,
 *   `queueEvents`), then the record (`save`), then the other effects run (`runEffects`).
 * - Every `HostEffect` variant is handled (`assertNever`); Remote* variants are logged and
 *   dropped, never executed.
 * - Non-durable events (probe chatter) are dropped rather than queued once a rollout has
 *   `NONDURABLE_OUTBOX_LIMIT` undelivered events.
 */
import {
  assertNever,
  describeHostStepError,
  failingEnforceProbes,
  type HostEffect,
  type HostStepError,
  type Unsequenced,
} from '../core/index.ts'
import type { Logger } from '../runtime/log.ts'
import type { ActivationIntent } from './workers/activation.ts'
import type { HostStore, StoredHost } from './host-store.ts'
import { M, type Metrics } from './metrics.ts'
import type { Outbox } from './outbox.ts'

// Non-durable events (probe chatter) are dropped rather than queued once a rollout has this many
// undelivered events: an unreachable CP must not fill the disk at one file per probe run.
export const NONDURABLE_OUTBOX_LIMIT = 256

/** What the applier drives (the mutator's dependencies extend these). */
export type ApplierDeps = {
  readonly store: HostStore
  readonly outbox: Outbox
  readonly log: Logger
  readonly metrics: Metrics
  readonly activation: {
    submit(intent: ActivationIntent): boolean
    readonly current: ActivationIntent | undefined
    /** Whether a switch-to-configuration (of any run of the agent) is running now. */
    switchRunning(): boolean
  }
  /** The probe worker; `reset` returns the events to apply at once (the topology). */
  readonly probes: {
    reset(rolloutId: string): readonly Unsequenced[]
    stopFor(rolloutId: string): void
    keepWatching(rolloutId: string): void
  }
  readonly kickDrainer: () => void
}

/** The agent's effect applier. */
export class AgentApplier {
  constructor(private readonly deps: ApplierDeps) {}

  /** Logs and counts an event the state machine refused. */
  refused(error: HostStepError): void {
    // Duplicates, and probe results racing a transition out of Soaking, are expected noise.
    const expected =
      error.type === 'SeqRegression' ||
      (error.type === 'IllegalForState' && /^LocalProbe/.test(error.event))
    this.deps.log[expected ? 'debug' : 'warn']('event refused by the state machine', {
      error: error.type,
      reason: describeHostStepError(error),
    })
    this.deps.metrics.inc(M.reducerErrors, 'Events the state machine refused, by error.', {
      error: error.type,
    })
  }

  /** Writes a step's emitted events to the outbox (before the record); returns how many. */
  queueEvents(rolloutId: string, effects: readonly HostEffect[], now: number): number {
    let queued = 0
    for (const eff of effects) {
      if (eff.type !== 'LocalEmitEvent') continue
      if (!eff.durable && this.deps.outbox.depth(rolloutId) >= NONDURABLE_OUTBOX_LIMIT) {
        this.deps.log.debug('non-durable event dropped: outbound queue full', {
          rolloutId,
          kind: eff.payload.kind,
        })
        continue
      }
      this.deps.outbox.enqueue({
        rolloutId,
        seq: eff.payload.seq,
        kind: eff.payload.kind,
        durable: eff.durable,
        createdAt: now,
        event: eff.payload,
      })
      queued++
    }
    return queued
  }

  /** Persists a record. */
  save(host: StoredHost): void {
    this.deps.store.save(host)
  }

  /** Deletes a record and its delivered events. */
  forget(rolloutId: string): void {
    this.deps.store.remove(rolloutId)
    this.deps.outbox.forget(rolloutId)
  }

  /**
   * Runs the effects other than the emitted events (already queued). Returns the events to
   * apply at once: the probe topology of a restarted probe worker, which must be stepped before
   * any queued input (a tick must not converge on the soak alone first).
   */
  runEffects(host: StoredHost, effects: readonly HostEffect[], current: boolean): Unsequenced[] {
    const id = host.state.rolloutId
    const follow: Unsequenced[] = []
    for (const eff of effects) {
      switch (eff.type) {
        case 'LocalEmitEvent':
          continue // queued before the record (see queueEvents)
        case 'LocalFireSwitch':
          this.submit({ rolloutId: id, closure: eff.target, kind: 'switch', mayRealise: true })
          continue
        case 'LocalFireRollbackTo':
          this.submit({
            rolloutId: id,
            closure: eff.closure,
            kind: 'rollback',
            mayRealise: !host.meta.priorFromCp,
          })
          continue
        case 'LocalResetProbeCache':
          if (current) follow.push(...this.deps.probes.reset(id))
          continue
        case 'RecordTransition': {
          // A failure is what an on-call engineer filters for: a warning naming the probes.
          const failed = eff.to === 'Failed' || eff.to === 'Reverted'
          const probes = failingEnforceProbes(host.state).map((name) => ({
            probe: name,
            reason: host.state.probes[name]?.failureReason ?? null,
          }))
          this.deps.log[failed ? 'warn' : 'info']('host transition', {
            rolloutId: id,
            from: eff.from,
            to: eff.to,
            ...(failed && probes.length > 0 ? { failingProbes: probes } : {}),
          })
          continue
        }
        case 'EmitLog':
          this.deps.log[eff.level](eff.message, { target: eff.target, ...eff.fields })
          continue
        case 'RemoteInsertQuarantine':
        case 'RemoteAppendEventLog':
          this.deps.log.error('control-plane effect ignored by the agent', { effect: eff.type })
          continue
        default:
          return assertNever(eff, 'host effect')
      }
    }
    return follow
  }

  /**
   * After a step: wakes the drainer for new events; a converged record's probes keep running for
   * the metrics only, any other record no longer Soaking stops being probed.
   */
  stepped(host: StoredHost, queued: number): void {
    if (queued > 0) this.deps.kickDrainer()
    if (host.state.phase === 'Converged') this.deps.probes.keepWatching(host.state.rolloutId)
    else if (host.state.phase !== 'Soaking') this.deps.probes.stopFor(host.state.rolloutId)
  }

  /** Hands an intent to the activation worker (logged when its queue is full). */
  submit(intent: ActivationIntent): void {
    if (!this.deps.activation.submit(intent)) {
      this.deps.log.error('activation queue full; intent dropped', {
        rolloutId: intent.rolloutId,
        kind: intent.kind,
      })
    }
  }

  /** Stops probing a rollout another one superseded. */
  superseded(rolloutId: string, by: string): void {
    this.deps.probes.stopFor(rolloutId)
    this.deps.log.info('rollout superseded on this host', { rolloutId, by })
  }

  /** Moves the delivered events of `rolloutId` above `after` back to the outbox; returns how many. */
  replay(rolloutId: string, after: number): number {
    const n = this.deps.outbox.replayFrom(rolloutId, after)
    this.deps.log.info('replaying events for the control plane', { rolloutId, after, events: n })
    if (n > 0) this.deps.kickDrainer()
    return n
  }

  /** Refreshes the per-rollout state gauge. */
  refreshGauges(records: Iterable<StoredHost>): void {
    this.deps.metrics.replace(
      M.rolloutState,
      'The state of each rollout record on this host (value 1).',
      [...records].map((h) => ({
        labels: { rollout_id: h.state.rolloutId, state: h.state.phase },
        value: 1,
      }))
    )
  }
}
