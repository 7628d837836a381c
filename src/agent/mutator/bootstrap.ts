/**
 * The `Bootstrap` input: the CP's snapshots of this host's records (the boot-recovery handshake,
 * or heartbeats while the host has no record). The core decides adoption (`adoptSnapshot`); an
 * adopted record keeps its agent-local fields, is persisted, and is recovered at once.
 */
import { adoptSnapshot, type HostSnapshot, type SnapshotRefusal } from '../../core/index.ts'
import type { HostRolloutSnapshot } from '../../proto/agent.ts'
import { parseRfc3339Ms } from '../../proto/common.ts'
import { NEW_META, type StoredHost } from '../host-store.ts'
import type { Handler } from './context.ts'

/** The refusals worth a warning (the others are routine: another host, or nothing new). */
const WARN_IGNORED: { readonly [R in SnapshotRefusal]?: string } = {
  'target-differs': 'target differs from the local record',
  'not-signed-target': 'not the current signed target of this host',
}

/** The core's view of a wire snapshot (RFC 3339 times as epoch ms, absent values null). */
function snapshotOf(s: HostRolloutSnapshot): HostSnapshot {
  const ms = (t: string | null | undefined): number | null => (t ? parseRfc3339Ms(t) : null)
  return {
    rolloutId: s.rolloutId,
    hostname: s.hostname,
    channel: s.channel,
    phase: s.state,
    targetClosure: s.targetClosure,
    currentClosureAtDispatch: s.currentClosureAtDispatch ?? null,
    currentClosure: s.currentClosure ?? null,
    dispatchedAt: parseRfc3339Ms(s.dispatchedAt),
    dispatchAckedAt: ms(s.dispatchAckedAt),
    activationStartedAt: ms(s.activationStartedAt),
    activationCompletedAt: ms(s.activationCompletedAt),
    soakDueAt: ms(s.soakDueAt),
    lastEventSeq: s.lastEventSeq,
  }
}

/** Handles the CP's snapshots; replies with how many were adopted. */
export const onBootstrap: Handler<'Bootstrap'> = (ctx, { snapshots, currentClosure }) => {
  let adopted = 0
  for (const snap of snapshots) {
    const id = snap.rolloutId as string
    const local = ctx.record(id)
    const facts = local ? undefined : ctx.deps.signedRecordFacts(id)
    const d = adoptSnapshot({
      hostname: ctx.deps.machineId,
      local: local?.state,
      snapshot: snapshotOf(snap),
      signedTarget: facts?.targetClosure,
    })
    if (!d.adopt) {
      const why = WARN_IGNORED[d.reason]
      if (why) ctx.deps.log.warn(`snapshot ignored: ${why}`, { rolloutId: id })
      continue
    }
    // Without a local record the core adopts only the signed target, so `facts` is there.
    const kept =
      local ?? (facts && { policy: facts.policy, waveIndex: facts.waveIndex, meta: NEW_META })
    if (!kept) continue
    const priorFromCp = kept.meta.priorFromCp || d.priorFromCp
    const host: StoredHost = { ...kept, state: d.state, meta: { ...kept.meta, priorFromCp } }
    ctx.commit(host)
    ctx.deps.log.info('record rehydrated from control-plane snapshot', {
      rolloutId: id,
      state: snap.state,
      lastEventSeq: snap.lastEventSeq,
      current: currentClosure ?? null,
    })
    ctx.recover(id, ctx.isCurrent(id))
    adopted++
  }
  ctx.refreshGauges()
  return adopted
}
