/**
 * `Operator`: the operator actions — resume, cancel, retry or skip a host of a rollout (decided
 * by core's `decideRolloutAction`), clear a quarantine, deny or allow a host or an operator
 * certificate. Each is audited (an `operator_action` event-log row, an `operator_actions` row
 * with its seq, a log line) in the transaction that takes effect.
 * Invariants: nothing is audited for a refusal (404 unknown, 409 not now, with what to do); a
 * cancel closes the rollout as Cancelled (who and why kept), never as retention; a retried host
 * gets a fresh Pending record whose event seq continues the old one (the agent's seq goes on);
 * a skipped host is never dispatched again in its rollout; a denial takes effect for the next
 * request (the identity gate reads `state.denials`).
 */
import {
  decideRolloutAction,
  newPendingHost,
  type ActionFacts,
  type HostRolloutState,
} from '../../core/index.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { denialKey, pairKey } from '../state.ts'
import { suggest } from '../../lib/suggest.ts'
import { knownHostnames } from '../host-facts.ts'
import type { MutatorContext } from './context.ts'
import { completeIfDone, waveOf } from './host-steps.ts'
import type { InputOf, OperatorOp, OperatorReply, ReplyOf } from './inputs.ts'
import { stepRolloutEvent } from './rollout-steps.ts'

type Audit = (action: string, target: string, rolloutId: string | null, host?: string) => void

/** Applies an operator action. */
export function operatorAction(
  ctx: MutatorContext,
  input: InputOf<'Operator'>
): ReplyOf<'Operator'> {
  const { store, now } = ctx
  const { op, operator } = input
  const audit: Audit = (action, target, rolloutId, host) => {
    const seq = ctx.applier.append(
      'operator_action',
      now,
      { action, operator, target, reason: op.reason },
      host ?? null,
      rolloutId
    )
    store.safety.insertOperatorAction({
      at: now,
      operator,
      action,
      target,
      reason: op.reason,
      eventLogSeq: seq,
    })
    ctx.log.info('operator action', { action, operator, target, reason: op.reason })
  }
  switch (op.kind) {
    case 'resume':
    case 'cancel':
    case 'retry':
    case 'skip':
      return rolloutAction(ctx, op, operator, audit)
    case 'deny':
    case 'allow':
      return denialAction(ctx, op, operator, audit)
    case 'clear-quarantine':
      return clearQuarantine(ctx, op, audit)
    default: {
      const never: never = op
      throw new Error(`unknown operator action ${(never as { kind: string }).kind}`)
    }
  }
}

/** The rollout an action addresses: the given one, or the host's channel's current rollout. */
function rolloutOf(ctx: MutatorContext, op: OperatorOp): string | undefined {
  if (op.kind === 'resume' || op.kind === 'cancel') return op.rolloutId
  if (op.kind !== 'retry' && op.kind !== 'skip') return undefined
  if (op.rolloutId !== undefined) return op.rolloutId
  const release = ctx.state.release
  const channel = release?.fleet.value.hosts[op.hostname as never]?.channel
  return channel === undefined ? undefined : release?.manifests[channel]?.rolloutId
}

function factsOf(ctx: MutatorContext, rolloutId: string): ActionFacts | undefined {
  const { state } = ctx
  const live = state.rollouts.get(rolloutId)
  if (live === undefined) return undefined
  const hosts = Object.values(state.hosts[rolloutId] ?? {}).map((h) => ({
    hostname: h.hostname,
    phase: h.phase,
    wave: waveOf(ctx, rolloutId, h.hostname),
    targetClosure: h.targetClosure,
    policyApplied: h.policyApplied,
    skipped: state.skipOf(rolloutId, h.hostname) !== undefined,
  }))
  const quarantined = new Set(state.quarantines.get(live.record.channel)?.keys() ?? [])
  return { record: live.record, hosts, quarantined }
}

function rolloutAction(
  ctx: MutatorContext,
  op: Extract<OperatorOp, { kind: 'resume' | 'cancel' | 'retry' | 'skip' }>,
  operator: string,
  audit: Audit
): OperatorReply {
  const { state, now } = ctx
  const rolloutId = rolloutOf(ctx, op)
  if (rolloutId === undefined) {
    return { ok: false, status: 404, error: `host ${hostOf(op)} is in no current rollout` }
  }
  const facts = factsOf(ctx, rolloutId)
  if (facts === undefined) return { ok: false, status: 404, error: `unknown rollout ${rolloutId}` }
  const base = { operator, reason: op.reason, at: now }
  const decision = decideRolloutAction(
    facts,
    op.kind === 'retry' || op.kind === 'skip'
      ? { ...base, kind: op.kind, hostname: op.hostname }
      : { ...base, kind: op.kind }
  )
  if (!decision.ok) return decision
  if ('event' in decision) {
    audit(op.kind, rolloutId, rolloutId)
    const err = stepRolloutEvent(ctx, decision.event)
    if (err !== undefined) throw new Error(`operator ${op.kind} accepted but refused: ${err}`)
    if (op.kind === 'cancel')
      ctx.log.info('rollout cancelled', { rolloutId, operator, reason: op.reason })
  } else {
    const rec = state.host(rolloutId, decision.host)!
    audit(op.kind, `${rolloutId}/${decision.host}`, rolloutId, decision.host)
    if (decision.change === 'skip') skipHost(ctx, rec, operator, op.reason)
    else retryHost(ctx, rec, operator)
  }
  ctx.markDirty()
  const r = state.rollouts.get(rolloutId)!.record
  return {
    ok: true,
    body: {
      rolloutId,
      ...('host' in decision ? { hostname: decision.host, action: decision.change } : {}),
      state: r.phase,
      halted: r.halt !== null,
      hostState: 'host' in decision ? (state.host(rolloutId, decision.host)?.phase ?? null) : null,
    },
  }
}

function hostOf(op: OperatorOp): string {
  return op.kind === 'retry' || op.kind === 'skip' ? op.hostname : ''
}

/** Marks a host skipped: done for promotion, its queued dispatch withdrawn, never re-queued. */
function skipHost(
  ctx: MutatorContext,
  rec: HostRolloutState,
  operator: string,
  reason: string
): void {
  const skip = { rolloutId: rec.rolloutId, hostname: rec.hostname, at: ctx.now, operator, reason }
  ctx.store.operator.insertSkip(skip)
  ctx.state.putSkip(skip)
  ctx.applier.withdrawDispatch(rec.hostname, rec.rolloutId)
  completeIfDone(ctx, rec.rolloutId)
}

/**
 * A fresh Pending record for a Failed or Reverted host, so the planner dispatches it again. Its
 * seq continues the old record's (the agent continues its own), and it keeps the closure the
 * host runs now.
 */
function retryHost(ctx: MutatorContext, prev: HostRolloutState, operator: string): void {
  const { state, store, applier, now } = ctx
  const waveIndex = waveOf(ctx, prev.rolloutId, prev.hostname)
  const next: HostRolloutState = {
    ...newPendingHost({
      rolloutId: prev.rolloutId,
      hostname: prev.hostname,
      channel: prev.channel,
      targetClosure: prev.targetClosure,
      dispatchedAt: now,
    }),
    currentClosure: prev.currentClosure,
    lastEventSeq: prev.lastEventSeq,
  }
  store.hosts.upsert(next, waveIndex)
  state.putHost(next, waveIndex)
  // The first attempt's delivery would read as "delivered, awaiting the ack" and hold this one.
  state.delivered.delete(pairKey(prev.rolloutId, prev.hostname))
  // A heartbeat from before the rollback still names the target: left as is, it would read as
  // "already at its target" and converge the retried host by synthesis without dispatching it.
  const hb = state.heartbeats.get(prev.hostname)
  if (hb !== undefined && prev.currentClosure !== null && hb.closure === prev.targetClosure)
    state.heartbeats.set(prev.hostname, { ...hb, closure: prev.currentClosure })
  store.operator.deleteProbeFailuresOf(prev.rolloutId, prev.hostname)
  state.clearProbeFailures(prev.rolloutId, prev.hostname)
  applier.append(
    'effect',
    now,
    {
      effect: 'RecordTransition',
      host: prev.hostname,
      rollout_id: prev.rolloutId,
      from: prev.phase,
      to: 'Pending',
      at: toRfc3339(now),
      retriedBy: operator,
    },
    prev.hostname,
    prev.rolloutId
  )
}

function denialAction(
  ctx: MutatorContext,
  op: Extract<OperatorOp, { kind: 'deny' | 'allow' }>,
  operator: string,
  audit: Audit
): OperatorReply {
  const { state, store, now } = ctx
  const target = `${op.target}:${op.name}`
  if (op.kind === 'allow') {
    if (state.denial(op.target, op.name) === undefined)
      return { ok: false, status: 404, error: `${op.target} ${op.name} is not denied` }
    audit('allow', target, null, op.target === 'host' ? op.name : undefined)
    store.operator.deleteDenial(op.target, op.name)
    state.denials.delete(denialKey(op.target, op.name))
    return { ok: true, body: { kind: op.target, name: op.name, denied: false } }
  }
  if (op.target === 'operator' && op.name === operator) {
    return {
      ok: false,
      status: 409,
      error: 'an operator cannot deny their own certificate; use another operator certificate',
    }
  }
  if (op.target === 'host' && !knownHostnames(state).includes(op.name)) {
    // A typo in an emergency must not look like success while the real host keeps running.
    const guess = suggest(op.name, knownHostnames(state))
    return {
      ok: false,
      status: 404,
      error: `unknown host ${op.name}${guess ? ` (did you mean ${guess}?)` : ''}: neither in the adopted fleet nor ever enrolled`,
    }
  }
  const again = state.denial(op.target, op.name)
  const denial = { kind: op.target, name: op.name, reason: op.reason, by: operator, at: now }
  audit('deny', target, null, op.target === 'host' ? op.name : undefined)
  store.operator.upsertDenial(denial)
  state.denials.set(denialKey(op.target, op.name), denial)
  return {
    ok: true,
    body: {
      kind: op.target,
      name: op.name,
      denied: true,
      at: toRfc3339(now),
      // Denying again replaces the reason: say so rather than repeat a plain "done".
      ...(again !== undefined ? { replaced: { reason: again.reason, by: again.by } } : {}),
    },
  }
}

function clearQuarantine(
  ctx: MutatorContext,
  op: Extract<OperatorOp, { kind: 'clear-quarantine' }>,
  audit: Audit
): OperatorReply {
  const { state, store } = ctx
  if (state.quarantines.get(op.channel)?.has(op.closure) !== true) {
    return {
      ok: false,
      status: 404,
      error: `closure is not quarantined on channel ${op.channel}`,
    }
  }
  audit('clear-quarantine', `${op.channel}/${op.closure}`, null)
  store.safety.unquarantine(op.channel, op.closure)
  const m = state.quarantines.get(op.channel)!
  m.delete(op.closure)
  if (m.size === 0) state.quarantines.delete(op.channel)
  ctx.markDirty()
  return { ok: true, body: { channel: op.channel, closure: op.closure, cleared: true } }
}
