/**
 * The activation worker: runs switch and rollback intents one at a time through the activation
 * pipeline and reports each outcome to the mutator as a Local event (spec runtime.md §6.3).
 *
 * Invariants:
 * - One switch at a time on a host: intents are serialised through a bounded queue.
 * - An intent for a rollout that is no longer the host's current one is skipped (a newer
 *   dispatch superseded it before its switch started).
 * - `resume` intents (after an agent restart) never fire a second switch while one is running:
 *   while the switch lock is held they only watch the current-system link.
 * - An interrupted pipeline (agent shutdown) reports nothing; the restarted agent recovers from
 *   the link (see mutator/recovery.ts).
 */
import type { Unsequenced } from '../../core/index.ts'
import { BoundedQueue } from '../../runtime/queue.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import {
  activate,
  EXIT_GENERIC,
  readCurrentClosure,
  rollbackTo,
  switchLockHeld,
  switchLockHeldNow,
  type ActivationDeps,
  type ActivationOutcome,
} from '../activation.ts'
import { M, type Metrics } from '../metrics.ts'

/** What to do. `resume` variants continue after a restart (no second concurrent switch). */
export type ActivationIntent = {
  readonly rolloutId: string
  readonly closure: string
  readonly kind: 'switch' | 'resume-switch' | 'rollback' | 'resume-rollback'
  /** Rollback only: whether the closure may be fetched (false for a CP-named prior). */
  readonly mayRealise: boolean
}

// Intents per host are rare (one dispatch, at most one rollback); 4 (the reference's channel
// size) absorbs a re-dispatch racing a rollback without ever blocking the mutator.
const INTENT_CAPACITY = 4

/** The dependencies of the worker. */
export type ActivationWorkerDeps = {
  readonly pipeline: Omit<ActivationDeps, 'signal'>
  /** Hands a Local event (numbered by the mutator) over; must not lose it while the agent runs. */
  readonly emit: (rolloutId: string, event: Unsequenced) => Promise<void>
  readonly onRollbackFailed: (rolloutId: string, reason: string) => void
  readonly isCurrent: (rolloutId: string) => boolean
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Metrics
}

/** Serialises and runs activation intents. */
export class ActivationWorker {
  private readonly queue = new BoundedQueue<ActivationIntent>(INTENT_CAPACITY)
  private running: ActivationIntent | undefined

  constructor(private readonly deps: ActivationWorkerDeps) {}

  /** Queues an intent; false when the queue is full (logged by the caller). */
  submit(intent: ActivationIntent): boolean {
    return this.queue.tryPush(intent)
  }

  /** Whether a switch-to-configuration holds the switch lock now (this run's or an earlier's). */
  switchRunning(): boolean {
    return switchLockHeldNow(this.deps.pipeline.system)
  }

  /** The intent being executed, if any. */
  get current(): ActivationIntent | undefined {
    return this.running
  }

  /** Processes intents until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const stop = (): void => this.queue.close()
    signal.addEventListener('abort', stop, { once: true })
    for (;;) {
      const intent = await this.queue.pull()
      if (!intent || signal.aborted) break
      if (!this.deps.isCurrent(intent.rolloutId)) {
        this.deps.log.info('activation skipped: rollout superseded', {
          rolloutId: intent.rolloutId,
          kind: intent.kind,
        })
        continue
      }
      this.running = intent
      try {
        await this.execute(intent, signal)
      } catch (e) {
        this.deps.log.error('activation worker error', { rolloutId: intent.rolloutId, error: e })
      } finally {
        this.running = undefined
      }
    }
  }

  private deps2(signal: AbortSignal): ActivationDeps {
    return { ...this.deps.pipeline, signal }
  }

  /** Waits while another switch holds the lock; true when the link then names `closure`. */
  private async waitForRunningSwitch(
    closure: string,
    signal: AbortSignal
  ): Promise<'reached' | 'free' | 'timeout'> {
    const p = this.deps.pipeline
    const { monotonicMs, sleep } = p.timers
    const deadline = monotonicMs() + p.switchTimeoutMs
    while (await switchLockHeld(this.deps2(signal))) {
      if (readCurrentClosure(p.system.currentSystem) === closure) return 'reached'
      if (signal.aborted || monotonicMs() >= deadline) return 'timeout'
      await sleep(p.switchPollMs, signal)
    }
    return readCurrentClosure(p.system.currentSystem) === closure ? 'reached' : 'free'
  }

  private async execute(intent: ActivationIntent, signal: AbortSignal): Promise<void> {
    const { rolloutId, closure } = intent
    const now = (): number => this.deps.clock.now()
    if (intent.kind === 'switch' || intent.kind === 'resume-switch') {
      let outcome: ActivationOutcome | undefined
      if (intent.kind === 'resume-switch') {
        const w = await this.waitForRunningSwitch(closure, signal)
        if (signal.aborted) return
        if (w === 'reached') outcome = { kind: 'completed', observed: closure }
        else if (w === 'timeout') {
          outcome = {
            kind: 'failed',
            phase: 'switch-poll-timeout',
            exitCode: EXIT_GENERIC,
            stderrTail: 'a switch started before the agent restarted did not finish in time',
          }
        }
      } else {
        await this.deps.emit(rolloutId, {
          type: 'LocalActivationStarted',
          startedAt: now(),
          switchMethod: 'switch-to-configuration',
        })
      }
      this.deps.log.info('activation started', { rolloutId, closure, kind: intent.kind })
      outcome ??= await activate(closure, this.deps2(signal))
      await this.reportSwitch(rolloutId, closure, outcome)
      return
    }
    // Rollback.
    if (intent.kind === 'resume-rollback') {
      const w = await this.waitForRunningSwitch(closure, signal)
      if (signal.aborted) return
      if (w === 'reached') {
        await this.reportRollback(rolloutId, closure, { kind: 'reverted', observed: closure })
        return
      }
    }
    this.deps.log.warn('rollback started', { rolloutId, closure })
    const out = await rollbackTo(closure, this.deps2(signal), { mayRealise: intent.mayRealise })
    await this.reportRollback(rolloutId, closure, out)
  }

  private async reportSwitch(
    rolloutId: string,
    closure: string,
    outcome: ActivationOutcome
  ): Promise<void> {
    const at = this.deps.clock.now()
    this.deps.metrics.inc(M.activations, 'Activation and rollback outcomes.', {
      action: 'switch',
      outcome: outcome.kind,
    })
    switch (outcome.kind) {
      case 'completed':
        this.deps.log.info('activation completed', { rolloutId, closure })
        return this.deps.emit(rolloutId, {
          type: 'LocalActivationCompleted',
          observedCurrentClosure: outcome.observed,
          exitCode: 0,
          completedAt: at,
        })
      case 'deferred':
        this.deps.log.info('activation deferred to next boot', {
          rolloutId,
          closure,
          component: outcome.component,
        })
        return this.deps.emit(rolloutId, {
          type: 'LocalActivationDeferred',
          component: outcome.component,
          deferredAt: at,
        })
      case 'failed':
        this.deps.log.warn('activation failed', {
          rolloutId,
          closure,
          phase: outcome.phase,
          exitCode: outcome.exitCode,
          stderrTail: outcome.stderrTail,
        })
        return this.deps.emit(rolloutId, {
          type: 'LocalActivationFailed',
          exitCode: outcome.exitCode,
          stderrTail: outcome.stderrTail,
          failedAt: at,
        })
      case 'interrupted':
        this.deps.log.info('activation interrupted by shutdown; recovered at next start', {
          rolloutId,
        })
        return
    }
  }

  private async reportRollback(
    rolloutId: string,
    closure: string,
    out: Awaited<ReturnType<typeof rollbackTo>>
  ): Promise<void> {
    this.deps.metrics.inc(M.activations, 'Activation and rollback outcomes.', {
      action: 'rollback',
      outcome: out.kind,
    })
    switch (out.kind) {
      case 'reverted':
        this.deps.log.warn('rollback completed', { rolloutId, closure })
        return this.deps.emit(rolloutId, {
          type: 'LocalRollbackCompleted',
          revertedToClosure: out.observed,
          exitCode: 0,
          completedAt: this.deps.clock.now(),
        })
      case 'failed':
        this.deps.log.error('rollback failed', {
          rolloutId,
          closure,
          phase: out.phase,
          exitCode: out.exitCode,
          stderrTail: out.stderrTail,
        })
        this.deps.onRollbackFailed(rolloutId, out.stderrTail)
        return
      case 'interrupted':
        return
    }
  }
}
