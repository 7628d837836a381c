/**
 * The CP applier: turns the effects of host steps, rollout steps and plan actions into database
 * writes and in-memory updates. Called only by the mutator's handlers, inside the transaction of
 * the input being processed; it never calls `step`, `stepRollout` or `planNext` itself.
 *
 * Invariants:
 * - Every variant of `HostEffect` and `RolloutEffect` is handled (`assertNever`); agent-side
 *   effects reaching the CP are logged and dropped, never executed.
 * - Derived rows are written in the same transaction as the event-log row that explains them.
 * - Long-poll wake-ups are collected and only delivered after the transaction commits
 *   (`flushWakeups`), so a woken agent always finds its committed dispatch.
 * - `gate_decision` rows are debounced: one row when the gate holding a host changes. The live
 *   reason (counts, names, seconds left) is kept in memory for status; writing a row each time it
 *   changed cost ~600k rows (340 MB) for one 10k-host, two-wave rollout. Gates that hold a whole
 *   rollout or wave (`ROLLOUT_WIDE_GATES`) write one row per transaction listing every host they
 *   started holding (`flushGateGroups`, called by the mutator before each commit), not one row
 *   per host: opening a 10k-host rollout whose later waves wait is one row, not 9,000.
 */
import type { HostEffect, RolloutEffect } from '../core/index.ts'
import { assertNever, isUnderway } from '../core/index.ts'
import type { EventKind, QueuedDispatch, Store } from '../db/store.ts'
import type { Logger } from '../runtime/log.ts'
import { toRfc3339 } from '../proto/common.ts'
import { outboundToWire } from '../runtime/wire.ts'
import type { DispatchHub } from './dispatch-hub.ts'
import type { CpMetrics } from './metrics.ts'
import { pairKey, type CpState } from './state.ts'
import { failureSummary } from './failure-summary.ts'

/** Gates whose hold is the same for every host of a rollout or wave (one reason for all). */
const ROLLOUT_WIDE_GATES: ReadonlySet<string> = new Set([
  'wave-promotion',
  'halted',
  'freshness',
  'channel-edges',
])

/**
 * The probe-result rows this process appended for one pair: since the last trim, and those the
 * trim may delete (`kept`: every row but the first failure of a probe or control).
 */
type ProbeResultCount = { sinceTrim: number; kept: number }

/** What the mutator tells the applier about the event being applied. */
export type ApplyContext = { readonly now: number; readonly synthesized: boolean }

/** The applier. */
export class Applier {
  private readonly wakeups = new Set<string>()
  /** Probe-result rows of each underway (rollout, host) pair, as the retention counts them. */
  private readonly probeResults = new Map<string, ProbeResultCount>()
  /** Hosts newly held by a rollout-wide gate in this transaction, by (rollout, gate, reason). */
  private readonly gateGroups = new Map<
    string,
    { rolloutId: string; gate: string; reason: string; hosts: string[] }
  >()

  constructor(
    private readonly store: Store,
    private readonly state: CpState,
    private readonly hub: DispatchHub,
    private readonly metrics: CpMetrics,
    private readonly log: Logger,
    private readonly probeResultsKept: number
  ) {}

  /** Appends an event-log row at the next seq (`CpState.nextSeq`); returns that seq. */
  append(
    kind: EventKind,
    now: number,
    payload: Record<string, unknown>,
    host: string | null = null,
    rolloutId: string | null = null
  ): number {
    const seq = this.state.nextSeq
    this.store.events.append({ seq, ts: now, kind, host, rolloutId, payload })
    this.state.nextSeq = seq + 1
    return seq
  }

  /** Applies the effects of one successful host step, in order. */
  applyHostEffects(effects: readonly HostEffect[], ctx: ApplyContext): void {
    let lastSeq: number | null = null
    for (const e of effects) {
      switch (e.type) {
        case 'RemoteAppendEventLog': {
          const wire = outboundToWire(e.payload) as unknown as Record<string, unknown>
          const payload = ctx.synthesized ? { ...wire, synthesized: true } : wire
          lastSeq = this.append('agent_event', ctx.now, payload, e.hostname, e.rolloutId)
          if (e.payload.kind === 'ProbeResult') {
            const firstFailure = this.recordProbeFailures(e, lastSeq)
            this.retainProbeResults(e.hostname, e.rolloutId, firstFailure)
          }
          break
        }
        case 'RecordTransition':
          // No probe result is stepped outside these phases: the pair's count is done.
          if (!isUnderway(e.to)) this.probeResults.delete(pairKey(e.rolloutId, e.hostname))
          if (e.to === 'Failed' || e.to === 'Reverted')
            this.log.warn(e.to === 'Failed' ? 'host failed' : 'host rolled back', {
              rolloutId: e.rolloutId,
              host: e.hostname,
              from: e.from,
              ...failureSummary(this.state.host(e.rolloutId, e.hostname)),
            })
          this.append(
            'effect',
            ctx.now,
            {
              effect: 'RecordTransition',
              host: e.hostname,
              rollout_id: e.rolloutId,
              from: e.from,
              to: e.to,
              at: toRfc3339(e.at),
              ...(ctx.synthesized ? { synthesized: true } : {}),
            },
            e.hostname,
            e.rolloutId
          )
          break
        case 'RemoteInsertQuarantine':
          this.quarantine(e.channel, e.closure, ctx.now, lastSeq)
          break
        case 'EmitLog':
          this.log[e.level](e.message, { ...e.fields, target: e.target })
          break
        case 'LocalFireSwitch':
        case 'LocalFireRollbackTo':
        case 'LocalResetProbeCache':
        case 'LocalEmitEvent':
          // Policy: an agent-side effect on the CP is a bug in the caller; never execute it.
          this.log.error('agent-side effect reached the control plane; dropped', { effect: e.type })
          break
        default:
          assertNever(e, 'host effect')
      }
    }
  }

  /** Applies the effects of one rollout step; `seq` is its `rollout_event` row. */
  applyRolloutEffects(effects: readonly RolloutEffect[], now: number, seq: number): void {
    for (const e of effects) {
      switch (e.type) {
        case 'RecordRolloutTransition':
          if (e.to === 'Terminal')
            this.log.info('rollout converged', { rolloutId: e.rolloutId, from: e.from })
          this.append(
            'effect',
            now,
            {
              effect: e.type,
              rollout_id: e.rolloutId,
              from: e.from,
              to: e.to,
              at: toRfc3339(e.at),
            },
            null,
            e.rolloutId
          )
          break
        case 'UpdateCurrentWave':
          this.log.info('wave advanced', { rolloutId: e.rolloutId, wave: e.wave })
          this.append(
            'effect',
            now,
            { effect: e.type, rollout_id: e.rolloutId, wave: e.wave },
            null,
            e.rolloutId
          )
          break
        case 'RecordRolloutHalted':
          this.log.warn('rollout halted', {
            rolloutId: e.rolloutId,
            channel: this.state.rollouts.get(e.rolloutId)?.record.channel ?? null,
            host: e.hostname,
            ...failureSummary(this.state.host(e.rolloutId, e.hostname)),
          })
          this.append(
            'effect',
            now,
            { effect: e.type, rollout_id: e.rolloutId, host: e.hostname, at: toRfc3339(e.at) },
            e.hostname,
            e.rolloutId
          )
          // Halt means halt: nothing queued for this rollout may still be delivered.
          this.deleteDispatchesOf(e.rolloutId)
          break
        case 'RecordRolloutResumed':
          this.append(
            'effect',
            now,
            {
              effect: e.type,
              rollout_id: e.rolloutId,
              operator: e.operator,
              reason: e.reason,
              at: toRfc3339(e.at),
            },
            null,
            e.rolloutId
          )
          break
        default:
          assertNever(e, 'rollout effect')
      }
    }
  }

  /** Queues a dispatch (replacing an older one for the same pair) and schedules the wake-up. */
  enqueueDispatch(d: QueuedDispatch, now: number): void {
    this.store.dispatch.upsert(d)
    this.state.putDispatch(d)
    this.append(
      'plan_action',
      now,
      {
        action: 'QueueDispatch',
        host: d.hostname,
        rolloutId: d.rolloutId,
        targetClosure: d.targetClosure,
        waveIndex: d.waveIndex,
        soakDueAt: toRfc3339(d.soakDueAt),
      },
      d.hostname,
      d.rolloutId
    )
    this.state.gateBlocks.delete(pairKey(d.rolloutId, d.hostname))
    this.metrics.dispatchesQueued.inc()
    this.wakeups.add(d.hostname)
  }

  /** Takes a host's oldest queued dispatch for delivery (memory mirrors the queue's rows). */
  takeDispatch(host: string, now: number): QueuedDispatch | undefined {
    const taken = this.state.nextDispatch(host)
    if (taken === undefined) return undefined
    this.store.dispatch.delete(host, taken.rolloutId)
    this.state.dropDispatch(host, taken.rolloutId)
    this.state.delivered.set(pairKey(taken.rolloutId, host), now)
    this.append(
      'effect',
      now,
      { effect: 'DispatchDelivered', host, rollout_id: taken.rolloutId },
      host,
      taken.rolloutId
    )
    this.metrics.dispatchesDelivered.inc()
    return taken
  }

  /** Withdraws the queued dispatch of one pair (the host left Pending without taking it). */
  withdrawDispatch(host: string, rolloutId: string): void {
    if (this.state.dispatch.get(host)?.has(rolloutId) !== true) return
    this.store.dispatch.delete(host, rolloutId)
    this.state.dropDispatch(host, rolloutId)
  }

  /** Deletes every queued dispatch of a rollout. */
  deleteDispatchesOf(rolloutId: string): void {
    this.store.dispatch.deleteOfRollout(rolloutId)
    for (const [host, m] of [...this.state.dispatch])
      if (m.has(rolloutId)) this.state.dropDispatch(host, rolloutId)
  }

  /** Records a gate block: the live reason always, a `gate_decision` row when the gate changed. */
  recordGate(rolloutId: string, host: string, gate: string, reason: string, now: number): void {
    const key = pairKey(rolloutId, host)
    const prev = this.state.gateBlocks.get(key)
    if (prev !== undefined && prev.gate === gate) {
      if (prev.reason !== reason)
        this.state.gateBlocks.set(key, { gate, reason, since: prev.since })
      return
    }
    this.state.gateBlocks.set(key, { gate, reason, since: now })
    this.metrics.gateDecisions.inc({ gate })
    if (ROLLOUT_WIDE_GATES.has(gate)) {
      const groupKey = `${rolloutId}\u0000${gate}\u0000${reason}`
      const group = this.gateGroups.get(groupKey)
      if (group === undefined)
        this.gateGroups.set(groupKey, { rolloutId, gate, reason, hosts: [host] })
      else group.hosts.push(host)
      return
    }
    this.append('gate_decision', now, { gate, reason, host, rollout: rolloutId }, host, rolloutId)
  }

  /** Writes the grouped rows of rollout-wide gates (inside the transaction, before it commits). */
  flushGateGroups(now: number): void {
    for (const g of this.gateGroups.values()) {
      this.append(
        'gate_decision',
        now,
        { gate: g.gate, reason: g.reason, rollout: g.rolloutId, hosts: g.hosts.sort() },
        null,
        g.rolloutId
      )
    }
    this.gateGroups.clear()
  }

  /** Quarantines a closure on a channel. */
  quarantine(channel: string, closure: string, now: number, seq: number | null): void {
    if (this.state.quarantines.get(channel)?.has(closure) === true) return
    this.store.safety.quarantine({ channel, closure, quarantinedAt: now, eventLogSeq: seq })
    this.state.addQuarantine(channel, closure, now)
    this.append('effect', now, { effect: 'InsertQuarantine', channel, closure })
    this.log.warn('closure quarantined', { channel, closure })
  }

  /** Delivers the wake-ups collected since the last flush (call after commit). */
  flushWakeups(): void {
    for (const host of this.wakeups) this.hub.notify(host)
    this.wakeups.clear()
  }

  /** Forgets what a rolled-back transaction collected: wake-ups and unwritten gate groups. */
  discardPending(): void {
    this.wakeups.clear()
    this.gateGroups.clear()
  }

  /**
   * Per-host retention of probe results: a soaking host reports every probe every interval, and
   * a hostile one as fast as its rate allows. Trimming every quarter of the retention keeps the
   * cost of the delete amortized; the first trim after a start also covers older rows. The
   * number deleted is counted from memory (writes return nothing): the rows this process
   * appended beyond the retention, so rows left by an earlier process are deleted uncounted.
   */
  private retainProbeResults(host: string, rolloutId: string, firstFailure: boolean): void {
    const key = pairKey(rolloutId, host)
    let n = this.probeResults.get(key)
    if (n === undefined) this.probeResults.set(key, (n = { sinceTrim: 0, kept: 0 }))
    n.sinceTrim++
    if (!firstFailure) n.kept++
    if (n.sinceTrim < Math.max(1, Math.ceil(this.probeResultsKept / 4))) return
    n.sinceTrim = 0
    this.store.events.trimProbeResults(host, rolloutId, this.probeResultsKept)
    const pruned = Math.max(0, n.kept - this.probeResultsKept)
    n.kept -= pruned
    if (pruned > 0) this.metrics.probeResultsPruned.inc({}, pruned)
  }

  /** Records the failing enforce results of a probe result; whether one was a first failure. */
  private recordProbeFailures(
    e: Extract<HostEffect, { type: 'RemoteAppendEventLog' }>,
    seq: number
  ): boolean {
    const p = e.payload
    if (p.kind !== 'ProbeResult') return false
    const rows: { controlId: string | null; framework: string | null }[] = []
    if (p.subResults !== null && p.subResults.length > 0) {
      for (const s of p.subResults) {
        if (s.status === 'fail' && s.effectiveMode === 'enforce') {
          rows.push({ controlId: s.controlId, framework: s.framework })
        }
      }
    } else if (p.mode === 'enforce' && p.status === 'fail') {
      rows.push({ controlId: null, framework: null })
    }
    let first = false
    for (const r of rows) {
      this.store.safety.insertProbeFailure({
        eventLogSeq: seq,
        rolloutId: e.rolloutId,
        host: e.hostname,
        probeName: p.probeName,
        controlId: r.controlId,
        framework: r.framework,
        observedAt: p.observedAt,
      })
      if (this.state.addProbeFailure(e.rolloutId, e.hostname, r.controlId ?? p.probeName))
        first = true
    }
    return first
  }
}
