/**
 * The fleet status that `GET /v1/stream` pushes (the dashboard's overview, `nixfleet status
 * --watch`): the channel rows of `/v1/channels` with each channel's resolved waves, the host rows
 * of `/v1/hosts`, the open rollouts of `/v1/rollouts`, and every disruption budget's use. Pure: a
 * function of the state snapshot and the host views' context.
 */
import { budgetLimit, isClosed, isInFlight } from '../../../core/index.ts'
import type { CpState } from '../../state.ts'
import { channelsView } from './channels.ts'
import { type HostViewContext, hostsView } from './hosts.ts'
import { rolloutsView } from './rollouts.ts'

/** The streamed status: what the list views show. Pure. */
export function streamStatus(state: CpState, hostCtx: HostViewContext): Record<string, unknown> {
  const release = state.release
  const listed = channelsView(state, hostCtx.now)
  // The channel rows, plus each channel's resolved waves (the overview's rows of tiles).
  const channels = (listed.ok ? listed.body.channels : []).map((row) => ({
    ...row,
    waves: (release?.fleet.value.waves[row['name'] as never] ?? []).map((w, index) => ({
      index,
      hosts: w.hosts,
      soakMinutes: w.soakMinutes,
    })),
  }))
  // A budget's use: its hosts in flight in any live rollout (what the planner counts).
  const inFlight = new Set<string>()
  for (const records of Object.values(state.hosts))
    for (const [host, r] of Object.entries(records)) if (isInFlight(r.phase)) inFlight.add(host)
  // Budgets are fleet-wide; every live rollout holds the resolved copy it was opened with.
  const budgets = new Map<string, { hosts: number; inFlight: number; maxInFlight: number | null }>()
  for (const r of state.rollouts.values()) {
    if (isClosed(r.record.phase)) continue
    for (const b of r.budgets) {
      budgets.set(JSON.stringify([b.hosts, b.maxInFlight, b.maxInFlightPct]), {
        hosts: b.hosts.length,
        inFlight: b.hosts.filter((h) => inFlight.has(h)).length,
        maxInFlight: budgetLimit(b) ?? null,
      })
    }
  }
  return {
    channels,
    hosts: hostsView(state, hostCtx).hosts,
    rollouts: rolloutsView(state).rollouts,
    budgets: [...budgets.values()],
  }
}
