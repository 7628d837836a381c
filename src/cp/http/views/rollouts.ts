/**
 * The rollout views (spec protocol.md §6.2): `/v1/rollouts` (open ones, with every host's
 * state), `/v1/rollouts/:id/lifecycle`, `/v1/rollouts/:id/hosts` and `/v1/rollouts/:id/events`.
 * Pure: functions of the state snapshot and the rows the route read.
 */
import type { HostRolloutState } from '../../../core/index.ts'
import type { EventLogEntry, StoredHost } from '../../../db/store.ts'
import { parseRolloutId } from '../../../proto/ids.ts'
import { toRfc3339 } from '../../../proto/common.ts'
import type { CpState } from '../../state.ts'
import { found, iso, missing, type ViewResult } from './common.ts'

function terminalOf(r: HostRolloutState): { state: string | null; at: number | null } {
  if (r.phase === 'Converged') return { state: 'converged', at: r.convergedAt }
  if (r.phase === 'Reverted') return { state: 'rolled-back', at: r.revertedAt }
  if (r.phase === 'Failed') return { state: 'failed', at: r.failedAt }
  return { state: null, at: null }
}

/** The `/v1/rollouts` body: rollouts not superseded, pruned or terminal, oldest first. */
export function rolloutsView(state: CpState): { rollouts: Record<string, unknown>[] } {
  const rollouts = [...state.rollouts.values()]
    .filter(
      (r) =>
        r.record.phase !== 'Superseded' &&
        r.record.phase !== 'Pruned' &&
        r.record.phase !== 'Terminal'
    )
    .sort(
      (a, b) =>
        a.record.openedAt - b.record.openedAt || (a.record.rolloutId < b.record.rolloutId ? -1 : 1)
    )
    .map((r) => ({
      rolloutId: r.record.rolloutId,
      channel: r.record.channel,
      currentWave: r.record.currentWave,
      createdAt: toRfc3339(r.record.openedAt),
      hostStates: Object.fromEntries(
        Object.entries(state.hosts[r.record.rolloutId] ?? {})
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([h, rec]) => [h, rec.phase])
      ),
      state: r.record.phase,
      halt: r.record.halt === null ? null : { ...r.record.halt, at: toRfc3339(r.record.halt.at) },
    }))
  return { rollouts }
}

/** The `/v1/rollouts/:id/lifecycle` body, with the successor that superseded it, if any. */
export function lifecycleView(state: CpState, id: string): ViewResult<Record<string, unknown>> {
  const live = state.rollouts.get(id)
  if (live === undefined) return missing(404, 'unknown rollout')
  const r = live.record
  const successor =
    r.supersededAt === null
      ? null
      : ([...state.rollouts.values()]
          .filter(
            (o) =>
              o.record.channel === r.channel &&
              o.record.openedAt >= r.supersededAt! &&
              o.record.rolloutId !== id
          )
          .sort((a, b) => a.record.openedAt - b.record.openedAt)[0]?.record.rolloutId ?? null)
  return found({
    rolloutId: id,
    state: r.phase,
    supersededAt: iso(r.supersededAt),
    supersededBy: successor,
    terminalAt: iso(r.terminalAt),
    currentWave: r.currentWave,
    halt: r.halt === null ? null : { ...r.halt, at: toRfc3339(r.halt.at) },
    lastResume: r.lastResume === null ? null : { ...r.lastResume, at: toRfc3339(r.lastResume.at) },
  })
}

/** The `/v1/rollouts/:id/hosts` body from the rollout's stored records, by wave then host. */
export function rolloutHostsView(
  state: CpState,
  id: string,
  records: readonly StoredHost[]
): ViewResult<Record<string, unknown>> {
  if (records.length === 0) return missing(404, 'no host records for this rollout')
  const ref = state.rollouts.get(id)?.record.targetRef ?? parseRolloutId(id)!.ciCommit
  const hosts = records
    .map(({ state: r, waveIndex }) => {
      const t = terminalOf(r)
      return {
        host: r.hostname,
        channel: r.channel,
        wave: waveIndex,
        targetClosureHash: r.targetClosure,
        targetChannelRef: ref,
        dispatchedAt: toRfc3339(r.dispatchedAt),
        terminalState: t.state,
        terminalAt: iso(t.at),
        state: r.phase,
      }
    })
    .sort((a, b) => a.wave - b.wave || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
  return found({ rollout_id: id, hosts })
}

/** The `/v1/rollouts/:id/events` body from the rollout's event-log rows. */
export function rolloutEventsView(
  id: string,
  events: readonly EventLogEntry[]
): Record<string, unknown> {
  return {
    rollout_id: id,
    events: events.map((e) => ({
      seq: e.seq,
      ts: toRfc3339(e.ts),
      kind: e.kind,
      host: e.host,
      payload: e.payload,
    })),
  }
}
