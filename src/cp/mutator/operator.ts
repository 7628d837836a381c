/**
 * `Operator`: the operator actions of DECISIONS §3.13 — resume or cancel a halted rollout, clear
 * a quarantine. Each is audited (an `operator_action` event-log row, an `operator_actions` row
 * with its seq, a log line) before it takes effect.
 * Invariants: only a halted rollout can be resumed or cancelled (else 409; unknown 404); a
 * cancel retires the rollout as retention does (→ Pruned); nothing is audited for a refusal.
 */
import type { RolloutEvent } from '../../core/index.ts'
import type { MutatorContext } from './context.ts'
import type { InputOf, ReplyOf } from './inputs.ts'
import { stepRolloutEvent } from './rollout-steps.ts'

/** Applies an operator action. */
export function operatorAction(
  ctx: MutatorContext,
  input: InputOf<'Operator'>
): ReplyOf<'Operator'> {
  const { state, store, now } = ctx
  const { op, operator } = input
  const audit = (action: string, target: string, reason: string): void => {
    const rolloutId = op.kind === 'clear-quarantine' ? null : target
    const seq = ctx.applier.append(
      'operator_action',
      now,
      { action, operator, target, reason },
      null,
      rolloutId
    )
    store.safety.insertOperatorAction({
      at: now,
      operator,
      action,
      target,
      reason,
      eventLogSeq: seq,
    })
    ctx.log.info('operator action', { action, operator, target, reason })
  }
  switch (op.kind) {
    case 'resume':
    case 'cancel': {
      const live = state.rollouts.get(op.rolloutId)
      if (live === undefined)
        return { ok: false, status: 404, error: `unknown rollout ${op.rolloutId}` }
      if (live.record.halt === null) {
        return {
          ok: false,
          status: 409,
          error: `rollout ${op.rolloutId} is not halted (state ${live.record.phase})`,
        }
      }
      audit(op.kind, op.rolloutId, op.reason)
      // The core has no cancel fact; a cancelled rollout is retired exactly as retention
      // retires one (→ Pruned: closed, halt cleared, channel-edge successors unblocked).
      const event: RolloutEvent =
        op.kind === 'resume'
          ? {
              type: 'OperatorClearance',
              rolloutId: op.rolloutId,
              operator,
              reason: op.reason,
              at: now,
            }
          : { type: 'RetentionExpired', rolloutId: op.rolloutId, at: now }
      const err = stepRolloutEvent(ctx, event)
      if (err !== undefined) return { ok: false, status: 409, error: err }
      ctx.markDirty()
      if (op.kind === 'cancel')
        ctx.log.info('rollout cancelled', { rolloutId: op.rolloutId, operator, reason: op.reason })
      const r = state.rollouts.get(op.rolloutId)!.record
      return {
        ok: true,
        body: { rolloutId: op.rolloutId, state: r.phase, halted: r.halt !== null },
      }
    }
    case 'clear-quarantine': {
      if (state.quarantines.get(op.channel)?.has(op.closure) !== true) {
        return {
          ok: false,
          status: 404,
          error: `closure is not quarantined on channel ${op.channel}`,
        }
      }
      audit('clear-quarantine', `${op.channel}/${op.closure}`, op.reason)
      store.safety.unquarantine(op.channel, op.closure)
      const m = state.quarantines.get(op.channel)!
      m.delete(op.closure)
      if (m.size === 0) state.quarantines.delete(op.channel)
      ctx.markDirty()
      return { ok: true, body: { channel: op.channel, closure: op.closure, cleared: true } }
    }
    default: {
      const never: never = op
      throw new Error(`unknown operator action ${(never as { kind: string }).kind}`)
    }
  }
}
