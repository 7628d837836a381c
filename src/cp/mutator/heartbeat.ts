/**
 * `Heartbeat`: remembers the host's latest heartbeat, applies what core's `heartbeatSynthesis`
 * calls for on each of its records, and answers with the replay points and, for an agent that
 * names no current rollout, the snapshots of its unfinished records (bootstrap).
 * It keeps what the agent reports of itself (`local_problem`, `last_refusal`, `reanchored_at`,
 * `prefetched_closure`)
 * for the host views, and the host's durable record (`known-hosts.ts`) up to date.
 * Invariants: a heartbeat that synthesizes nothing and changes nothing of the host's record
 * writes nothing (no savepoint is opened);
 * each synthesis runs in its own savepoint; a host's first heartbeat within the startup hold
 * triggers a plan pass (it releases the hold).
 */
import { heartbeatSynthesis, inStartupHold, isUnfinished, replayFrom } from '../../core/index.ts'
import type { HeartbeatRequest, HostRolloutSnapshot } from '../../proto/agent.ts'
import { parseRfc3339Ms, toRfc3339 } from '../../proto/common.ts'
import { pairKey, type CpState, type HeartbeatSeen } from '../state.ts'
import type { MutatorContext } from './context.ts'
import { stepHost, synthesizeConverged, waveOf } from './host-steps.ts'
import { noteHeartbeat } from './known-hosts.ts'
import { notePrefetch } from './prefetch.ts'
import type { HeartbeatReply, InputOf, ReplyOf } from './inputs.ts'

/** What a heartbeat tells of its host, as the CP remembers it (`state.heartbeats`). */
export function heartbeatSeen(req: HeartbeatRequest, receivedAt: number): HeartbeatSeen {
  const refusal = req.last_refusal ?? undefined
  return {
    at: parseRfc3339Ms(req.at),
    receivedAt,
    closure: (req.current_closure as string | null) ?? null,
    seqs: req.last_event_seq_by_rollout ?? {},
    problem: req.local_problem ?? undefined,
    ...(refusal
      ? {
          refusal: {
            rolloutId: refusal.rollout_id ?? null,
            kind: refusal.kind,
            message: refusal.message,
            at: parseRfc3339Ms(refusal.at),
          },
        }
      : {}),
    ...(req.reanchored_at ? { reanchoredAt: parseRfc3339Ms(req.reanchored_at) } : {}),
    ...(req.prefetched_closure ? { prefetched: req.prefetched_closure as string } : {}),
  }
}

/**
 * `HeartbeatBatch`: the heartbeats a follower replica answered itself (they carried no news),
 * each applied as if it had come alone, so last-seen, synthesis and the startup hold see them;
 * but one older (on the agent's clock) than the host's latest heartbeat here is skipped: a batch
 * that waited in the queue never puts back what a later heartbeat changed.
 */
export function heartbeatBatch(ctx: MutatorContext, input: InputOf<'HeartbeatBatch'>): void {
  for (const item of input.items) {
    const latest = ctx.state.heartbeats.get(item.request.hostname as string)
    if (latest !== undefined && parseRfc3339Ms(item.request.at) < latest.at) continue
    heartbeat(ctx, { type: 'Heartbeat', request: item.request, cert: item.cert })
  }
}

/** Applies a heartbeat. */
export function heartbeat(ctx: MutatorContext, input: InputOf<'Heartbeat'>): ReplyOf<'Heartbeat'> {
  const { state, now } = ctx
  const req = input.request
  const host = req.hostname as string
  const hb = heartbeatSeen(req, now)
  const { at, closure, problem } = hb
  const firstSinceStart = !state.heartbeats.has(host)
  const seen = state.heartbeats.get(host)
  const before = seen?.problem
  state.heartbeats.set(host, hb)
  // Each refusal and re-anchoring is logged once, when a heartbeat first reports it.
  if (hb.refusal !== undefined && hb.refusal.at !== seen?.refusal?.at)
    ctx.log.warn('agent refused a dispatch or manifest', {
      host,
      rolloutId: hb.refusal.rolloutId,
      kind: hb.refusal.kind,
      reason: hb.refusal.message,
      at: req.last_refusal?.at,
    })
  // First boot or a wiped state directory: expected, not a fault.
  if (hb.reanchoredAt !== undefined && hb.reanchoredAt !== seen?.reanchoredAt)
    ctx.log.info('host re-anchored its anti-rollback marks', { host, at: req.reanchored_at })
  // Logged when it appears or changes, not on every heartbeat that repeats it.
  if (problem && (problem.worker !== before?.worker || problem.code !== before?.code))
    ctx.log.warn('host reports a local problem', { host, ...problem })
  if (!problem && before)
    ctx.log.info('host local problem cleared', { host, worker: before.worker })
  if (hb.prefetched !== undefined && hb.prefetched !== seen?.prefetched)
    ctx.tx(() => notePrefetch(ctx, host, hb.prefetched!))
  if (firstSinceStart && inStartupHold(now, ctx.admission)) ctx.markDirty()
  // A heartbeat sent before a switch the CP already knows of (both times on the agent's clock)
  // does not put the old closure back.
  const seenClosure = at < lastSwitchAt(state, host) ? null : closure
  noteHeartbeat(ctx, host, seenClosure, (req.rollout_id as string | null) ?? null, input.cert)
  if (closure !== null) {
    for (const rolloutId of [...(state.byHost.get(host) ?? [])]) {
      const rec = state.host(rolloutId, host)
      if (rec === undefined) continue
      // Synthesized events are timed no later than the CP's clock (never a future convergedAt).
      const timedAt = Math.min(at, now)
      const todo = heartbeatSynthesis(
        rec,
        hb,
        timedAt,
        state.decisions.get(pairKey(rolloutId, host))
      )
      if (todo.type === 'complete') {
        const err = ctx.tx(() => stepHost(ctx, rec, waveOf(ctx, rolloutId, host), todo.event, true))
        if (err !== undefined)
          ctx.refusals(
            'warn',
            `${host}\u0000${rolloutId}\u0000${err}`,
            'completion synthesis refused',
            {
              host,
              rolloutId,
              reason: err,
            }
          )
      } else if (todo.type === 'converge') {
        ctx.tx(() => synthesizeConverged(ctx, rec, timedAt))
      } else if (todo.type === 'replan') {
        ctx.markDirty()
      }
    }
  }
  return heartbeatReply(state, req)
}

/**
 * The answer to a heartbeat from `state`: where the agent should replay its events from, and the
 * snapshots of its unfinished records when it names no current rollout (bootstrap).
 */
export function heartbeatReply(state: CpState, req: HeartbeatRequest): HeartbeatReply {
  const host = req.hostname as string
  const closure = (req.current_closure as string | null) ?? null
  const agentSeqs = req.last_event_seq_by_rollout ?? {}
  const rid = (req.rollout_id as string | null) ?? null
  const current = rid === null ? undefined : state.record(rid, host)?.state
  const replayFromByRollout: Record<string, number> = {}
  for (const [id, seq] of Object.entries(agentSeqs)) {
    const rec = state.record(id, host)?.state
    const from = rec === undefined ? null : replayFrom(rec, seq, null)
    if (from !== null) replayFromByRollout[id] = from
  }
  return {
    replayFrom:
      current === undefined ? null : replayFrom(current, agentSeqs[current.rolloutId], closure),
    replayFromByRollout,
    bootstrap: rid === null ? snapshots(state, host) : null,
  }
}

/** When the host last switched (activation completed or rolled back), per its live records. */
function lastSwitchAt(state: CpState, host: string): number {
  let last = -Infinity
  for (const rolloutId of state.byHost.get(host) ?? []) {
    const r = state.host(rolloutId, host)
    last = Math.max(last, r?.activationCompletedAt ?? -Infinity, r?.revertedAt ?? -Infinity)
  }
  return last
}

/** The wire snapshots of a host's unfinished records, by rollout id. */
function snapshots(state: CpState, host: string): HostRolloutSnapshot[] {
  const out: HostRolloutSnapshot[] = []
  for (const rolloutId of [...(state.byHost.get(host) ?? [])].sort()) {
    const r = state.host(rolloutId, host)
    if (r === undefined || !isUnfinished(r.phase)) continue
    const opt = (k: string, v: string | number | null) =>
      v === null ? {} : { [k]: typeof v === 'number' ? toRfc3339(v) : v }
    out.push({
      rolloutId: r.rolloutId,
      hostname: r.hostname,
      channel: r.channel,
      state: r.phase,
      targetClosure: r.targetClosure,
      ...opt('currentClosureAtDispatch', r.currentClosureAtDispatch),
      ...opt('currentClosure', r.currentClosure),
      dispatchedAt: toRfc3339(r.dispatchedAt),
      ...opt('dispatchAckedAt', r.dispatchAckedAt),
      ...opt('activationStartedAt', r.activationStartedAt),
      ...opt('activationCompletedAt', r.activationCompletedAt),
      ...opt('soakDueAt', r.soakDueAt),
      lastEventSeq: r.lastEventSeq,
    } as HostRolloutSnapshot)
  }
  return out
}
