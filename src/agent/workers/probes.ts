/**
 * The probe worker (spec runtime.md §4.3): on `LocalResetProbeCache` it stops every ticker,
 * reads the host's health-check declarations, reports the topology, and runs one ticker per
 * non-disabled probe (first run at once, then every max(intervalSeconds, 5) s, never two runs
 * of one probe at a time). Each run reports ProbeObservedFirst (first run), ProbeFailureFirst
 * (first failure, or pass → fail) and ProbeResult, as Local events for the mutator.
 *
 * Invariants:
 * - Only one rollout is probed at a time: the one of the latest reset.
 * - Once that rollout converged on this host (`keepWatching`) the probes keep running for the
 *   metrics and the log only (`nixfleet_agent_probe_status` stays a live health signal): no
 *   more events, since the rollout's verdict is in.
 * - A missing declarations file means no probes (soak alone decides, as the reference). An
 *   unreadable or invalid one is fail-closed: it is reported as a failing enforce probe named
 *   `health-checks.json`, so a closure that ships a broken probe config cannot converge.
 */
import type { ProbeDecl, Unsequenced } from '../../core/index.ts'
import { HealthChecksFileSchema, type ProbeDeclaration } from '../../proto/agent.ts'
import type { Clock } from '../../runtime/clock.ts'
import { readJsonFile } from '../../runtime/json-file.ts'
import type { Logger } from '../../runtime/log.ts'
import { M, type Metrics } from '../metrics.ts'
import {
  MIN_INTERVAL_SECS,
  modeOf,
  runProbe,
  type ProbeContext,
  type ProbeOutcome,
} from '../probes.ts'

/** The synthetic probe reporting an unusable declarations file. */
export const CONFIG_PROBE_NAME = 'health-checks.json'

/** The declarations as loaded: probes to run, or the reason the file is unusable. */
export type LoadedChecks =
  | { readonly ok: true; readonly probes: Readonly<Record<string, ProbeDeclaration>> }
  | { readonly ok: false; readonly error: string }

/** Reads the health-check declarations (`{}` when the file does not exist). */
export function loadHealthChecks(path: string): LoadedChecks {
  const r = readJsonFile(path, HealthChecksFileSchema, 'health checks', { absent: {} })
  return r.ok ? { ok: true, probes: r.value } : { ok: false, error: r.message }
}

/** The dependencies of the worker. */
export type ProbeWorkerDeps = {
  readonly configPath: string
  readonly context: Omit<ProbeContext, 'signal'>
  /** Hands a Local event for `rolloutId` to the mutator (which numbers it). */
  readonly emit: (rolloutId: string, event: Unsequenced) => void
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Metrics
}

type Ticker = { timer: ReturnType<typeof setTimeout> | undefined; stopped: boolean }

/** Runs the probes of the active rollout. */
export class ProbeWorker {
  private generation = 0
  private rolloutId: string | undefined
  private tickers: Ticker[] = []
  private abort = new AbortController()
  /** False once the probed rollout converged: results go to the metrics and the log only. */
  private reporting = true

  constructor(private readonly deps: ProbeWorkerDeps) {}

  /** The rollout currently probed. */
  get active(): string | undefined {
    return this.rolloutId
  }

  /** Stops every ticker (and cancels running probes). */
  stop(): void {
    this.generation++
    this.rolloutId = undefined
    this.reporting = true
    this.abort.abort()
    this.abort = new AbortController()
    for (const t of this.tickers) {
      t.stopped = true
      if (t.timer) clearTimeout(t.timer)
    }
    this.tickers = []
  }

  /** Stops probing if `rolloutId` is the rollout being probed. */
  stopFor(rolloutId: string): void {
    if (this.rolloutId === rolloutId) this.stop()
  }

  /** Keeps probing `rolloutId` (if probed) for the metrics only: it converged on this host. */
  keepWatching(rolloutId: string): void {
    if (this.rolloutId === rolloutId) this.reporting = false
  }

  /**
   * Restarts probing for `rolloutId` from a fresh read of the declarations. Returns the events
   * the caller must apply at once (the topology, and the failing config probe if any): applied
   * through the queue, a tick already queued could declare the host converged on its soak alone
   * before the topology that makes it wait for its probes.
   */
  reset(rolloutId: string): Unsequenced[] {
    this.stop()
    this.rolloutId = rolloutId
    const gen = this.generation
    const loaded = loadHealthChecks(this.deps.configPath)
    const now = this.deps.clock.now()
    const initial: Unsequenced[] = []
    const collect = (_r: string, e: Unsequenced): void => void initial.push(e)
    if (!loaded.ok) {
      this.deps.log.error('health checks unusable; reporting a failing probe', {
        reason: loaded.error,
      })
      initial.push({
        type: 'LocalProbeTopologyDeclared',
        probes: [{ probeName: CONFIG_PROBE_NAME, kind: 'config', mode: 'enforce' }],
        declaredAt: now,
      })
      this.report(
        rolloutId,
        CONFIG_PROBE_NAME,
        'enforce',
        { status: 'fail', failureReason: loaded.error, subResults: null },
        true,
        undefined,
        collect
      )
      return initial
    }
    const names = Object.keys(loaded.probes).sort()
    if (names.length === 0) {
      this.deps.metrics.replace(M.probeStatus, 'Latest probe result: 1 pass, 0 fail.', [])
      return initial
    }
    const topology: ProbeDecl[] = names.map((name) => {
      const d = loaded.probes[name]!
      return { probeName: name, kind: d.kind, mode: modeOf(d.mode) }
    })
    initial.push({
      type: 'LocalProbeTopologyDeclared',
      probes: topology,
      declaredAt: now,
    })
    for (const name of names) {
      const decl = loaded.probes[name]!
      if (modeOf(decl.mode) === 'disabled') continue
      this.startTicker(gen, rolloutId, name, decl)
    }
    this.deps.log.info('probes started', { rolloutId, probes: names.length })
    return initial
  }

  private startTicker(gen: number, rolloutId: string, name: string, decl: ProbeDeclaration): void {
    const ticker: Ticker = { timer: undefined, stopped: false }
    this.tickers.push(ticker)
    const intervalMs = Math.max(decl.intervalSeconds, MIN_INTERVAL_SECS) * 1000
    const mode = modeOf(decl.mode)
    let first = true
    let last: 'pass' | 'fail' | undefined
    const signal = this.abort.signal
    const run = async (): Promise<void> => {
      if (ticker.stopped || gen !== this.generation) return
      const outcome = await runProbe(decl, { ...this.deps.context, signal })
      if (ticker.stopped || gen !== this.generation) return
      const failureFirst = outcome.status === 'fail' && last !== 'fail'
      this.report(rolloutId, name, mode, outcome, first, failureFirst ? 'fail' : undefined)
      first = false
      last = outcome.status
      if (decl.runOnce || ticker.stopped) return
      ticker.timer = setTimeout(() => void run(), intervalMs)
    }
    void run()
  }

  private report(
    rolloutId: string,
    name: string,
    mode: ProbeDecl['mode'],
    outcome: ProbeOutcome,
    first: boolean,
    failureFirst: 'fail' | undefined,
    emit: (rolloutId: string, event: Unsequenced) => void = this.reporting
      ? this.deps.emit
      : () => {}
  ): void {
    const at = this.deps.clock.now()
    if (first)
      emit(rolloutId, {
        type: 'LocalProbeObservedFirst',
        probeName: name,
        mode,
        observedAt: at,
      })
    if (failureFirst || (first && outcome.status === 'fail')) {
      emit(rolloutId, {
        type: 'LocalProbeFailureFirst',
        probeName: name,
        mode,
        firstFailedAt: at,
      })
    }
    emit(rolloutId, {
      type: 'LocalProbeResult',
      probeName: name,
      mode,
      status: outcome.status,
      observedAt: at,
      failureReason: outcome.failureReason,
      subResults: outcome.subResults,
    })
    this.deps.metrics.set(
      M.probeStatus,
      'Latest probe result: 1 pass, 0 fail.',
      outcome.status === 'pass' ? 1 : 0,
      {
        probe: name,
        mode,
      }
    )
    if (outcome.status === 'fail') {
      // An enforce probe failing halts a rollout (or says a converged host is unwell): warning.
      this.deps.log[mode === 'enforce' ? 'warn' : 'info']('probe failed', {
        rolloutId,
        probe: name,
        mode,
        reason: outcome.failureReason,
      })
    }
  }
}
