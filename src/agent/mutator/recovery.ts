/**
 * Crash recovery (docs/agent.md "Crash safety"): what a restarted agent does with the records a
 * previous run left behind.
 *
 * Invariants (do not change without updating docs/agent.md):
 * - Replay: events found in the outbox above a record's seq (a crash between the outbox write
 *   and the record write) are stepped again, so the record catches up and no seq is reused.
 * - Per record: Activating/Deferred with the link on the target ⇒ ActivationCompleted;
 *   Activating otherwise ⇒ resume (wait for a running switch, re-fire once, then fail);
 *   Soaking ⇒ restart probes; Failed under rollback-and-halt without a completed rollback ⇒
 *   resume the rollback (once more at most). Only the active rollout is resumed or probed.
 * - A switch still running (its lock held) is waited for, however often the agent restarted:
 *   it is not counted as an attempt, and the link is no evidence until it ends (a rollback is
 *   not recorded because the link still names the prior system while the switch runs).
 */
import { assertNever, localEventOf, rehydrationEffects, step } from '../../core/index.ts'
import type { StoredHost } from '../host-store.ts'
import type { OutboxEntry } from '../outbox.ts'
import type { MutatorContext } from './context.ts'

// Forward switches per rollout: the dispatch's own, plus one re-fire after an agent restart that
// interrupted it; a third restart in Activating is a failure (the switch keeps killing us).
export const MAX_ACTIVATION_ATTEMPTS = 2
// Rollbacks per rollout: the policy's one, plus one resume after a restart.
export const MAX_ROLLBACK_ATTEMPTS = 2

/**
 * `host` after stepping the recorded events above its seq. An event the state machine refuses
 * still advances the seq, so it is never reused for another event.
 */
export function replayRecorded(
  host: StoredHost,
  entries: readonly OutboxEntry[],
  now: number
): StoredHost {
  let h = host
  for (const entry of entries) {
    const r = step(h.state, localEventOf(entry.event, h.state.targetClosure), now, h.policy)
    h = { ...h, state: r.ok ? r.state : { ...h.state, lastEventSeq: entry.seq } }
  }
  return h
}

/** Finishes or resumes whatever a previous run of the agent left in flight for a record. */
export function recover(ctx: MutatorContext, rolloutId: string, active: boolean): void {
  const host = ctx.record(rolloutId)
  if (!host) return
  const s = host.state
  const { log, clock } = ctx.deps
  const current = ctx.deps.currentClosure()
  const now = clock.now()
  const inFlight = ctx.deps.activation.current?.rolloutId === rolloutId
  switch (s.phase) {
    case 'Pending':
    case 'Converged':
    case 'Reverted':
      return
    case 'Activating':
    case 'Deferred': {
      if (current === s.targetClosure) {
        log.info('recovered: host already runs the target', { rolloutId, state: s.phase })
        ctx.applyNext(host, {
          type: 'LocalActivationCompleted',
          observedCurrentClosure: current,
          exitCode: 0,
          completedAt: now,
        })
        return
      }
      if (s.phase === 'Deferred' || !active || inFlight) return
      // A switch fired before the restart and still running is not a new attempt: wait for it.
      const running = ctx.deps.activation.switchRunning()
      const attempts = host.meta.activationAttempts
      if (!running && attempts >= MAX_ACTIVATION_ATTEMPTS) {
        ctx.applyNext(host, {
          type: 'LocalActivationFailed',
          exitCode: -1,
          stderrTail: `the agent restarted ${attempts} times during this activation; giving up`,
          failedAt: now,
        })
        return
      }
      if (!running)
        ctx.commit({ ...host, meta: { ...host.meta, activationAttempts: attempts + 1 } })
      log.warn('recovered: resuming an interrupted activation', {
        rolloutId,
        ...(running ? { switchStillRunning: true } : { attempt: attempts + 1 }),
      })
      ctx.applier.submit({
        rolloutId,
        closure: s.targetClosure,
        kind: 'resume-switch',
        mayRealise: true,
      })
      return
    }
    case 'Soaking':
      if (active) ctx.runEffects(host, rehydrationEffects(s))
      return
    case 'Failed': {
      const prior = s.currentClosureAtDispatch
      if (s.policyApplied !== 'rollback-and-halt' || s.revertedAt !== null) return
      if (prior === null || prior === '' || prior === s.targetClosure) return
      if (inFlight) return
      // While a switch runs (the forward one or the rollback) the link proves nothing: its end
      // decides, and waiting for it is not an attempt.
      const running = active && ctx.deps.activation.switchRunning()
      if (!running && current === prior) {
        ctx.applyNext(host, {
          type: 'LocalRollbackCompleted',
          revertedToClosure: prior,
          exitCode: 0,
          completedAt: now,
        })
        return
      }
      if (!running) {
        if (host.meta.rollbackAttempts >= MAX_ROLLBACK_ATTEMPTS) return
        ctx.commit({
          ...host,
          meta: { ...host.meta, rollbackAttempts: host.meta.rollbackAttempts + 1 },
        })
      }
      log.warn('recovered: resuming an interrupted rollback', {
        rolloutId,
        closure: prior,
        ...(running ? { switchStillRunning: true } : {}),
      })
      ctx.applier.submit({
        rolloutId,
        closure: prior,
        kind: 'resume-rollback',
        mayRealise: !host.meta.priorFromCp,
      })
      return
    }
    default:
      return assertNever(s.phase, 'host phase')
  }
}
