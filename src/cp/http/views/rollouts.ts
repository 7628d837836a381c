/**
 * The rollout views (spec protocol.md §6.2, operator API): `/v1/rollouts` (open ones by default;
 * the whole history, newest first and paged, with `all=1` or `state=`), `/v1/rollouts/:id`
 * (detail: waves, their hosts and soak ends, gate sentences), `/v1/rollouts/:id/lifecycle`,
 * `/v1/rollouts/:id/hosts` and `/v1/rollouts/:id/events` (paged by seq). Every row carries the
 * rollout's `outcome`: converged, halted, cancelled or superseded, with when, who and why.
 * Pure: functions of the state snapshot and the rows the route read. All keys are camelCase.
 */
import {
  blockedHosts,
  closedAt,
  isClosed,
  type HostRolloutState,
  type RolloutPhase,
  type RolloutRecord,
} from '../../../core/index.ts'
import type { EventLogEntry, StoredHost, StoredRollout } from '../../../db/store.ts'
import { parseRolloutId } from '../../../proto/ids.ts'
import { toRfc3339 } from '../../../proto/common.ts'
import { pairKey, type CpState } from '../../state.ts'
import { found, iso, missing, type ViewResult } from './common.ts'

function terminalOf(r: HostRolloutState): { state: string | null; at: number | null } {
  if (r.phase === 'Converged') return { state: 'converged', at: r.convergedAt }
  if (r.phase === 'Reverted') return { state: 'rolled-back', at: r.revertedAt }
  if (r.phase === 'Failed') return { state: 'failed', at: r.failedAt }
  return { state: null, at: null }
}

/** The latest halt of a rollout, kept after a resume, a supersede or a cancel. */
function haltView(r: RolloutRecord): Record<string, unknown> | null {
  const h = r.lastHalt ?? r.halt
  if (h === null) return null
  return {
    at: toRfc3339(h.at),
    host: h.hostname,
    hostPhase: h.hostPhase,
    probe: h.failure?.probe ?? null,
    reason: h.failure?.reason ?? `host ${h.hostPhase}`,
    active: r.halt !== null,
  }
}

/** How a rollout ended (or why it stands still): the history's answer to "what happened". */
export function outcomeOf(r: RolloutRecord): Record<string, unknown> | null {
  if (r.cancelled !== null) {
    return {
      kind: 'cancelled',
      at: toRfc3339(r.cancelled.at),
      by: r.cancelled.operator,
      reason: r.cancelled.reason,
    }
  }
  // A rollout that converged stays converged when a later release supersedes it.
  if (r.terminalAt !== null) return { kind: 'converged', at: toRfc3339(r.terminalAt) }
  if (r.supersededAt !== null)
    return { kind: 'superseded', at: toRfc3339(r.supersededAt), by: r.supersededBy }
  if (r.halt !== null) {
    const h = haltView(r)!
    return { kind: 'halted', at: h.at, host: h.host, probe: h.probe, reason: h.reason }
  }
  return null
}

/** One rollout row; `hostStates` by hostname. */
export function rolloutRow(
  r: RolloutRecord,
  hostStates: Readonly<Record<string, string>>
): Record<string, unknown> {
  return {
    id: r.rolloutId,
    channel: r.channel,
    state: r.phase,
    currentWave: r.currentWave,
    openedAt: toRfc3339(r.openedAt),
    closedAt: iso(closedAt(r)),
    hostStates: Object.fromEntries(Object.entries(hostStates).sort(([a], [b]) => (a < b ? -1 : 1))),
    outcome: outcomeOf(r),
    halt: haltView(r),
  }
}

const phasesOf = (records: Readonly<Record<string, HostRolloutState>>): Record<string, string> =>
  Object.fromEntries(Object.entries(records).map(([h, rec]) => [h, rec.phase]))

/** The `/v1/rollouts` body by default: rollouts not closed, oldest first. */
export function rolloutsView(state: CpState): {
  rollouts: Record<string, unknown>[]
  next: null
} {
  const rollouts = [...state.rollouts.values()]
    .filter((r) => !isClosed(r.record.phase))
    .sort(
      (a, b) =>
        a.record.openedAt - b.record.openedAt || (a.record.rolloutId < b.record.rolloutId ? -1 : 1)
    )
    .map((r) => rolloutRow(r.record, phasesOf(state.hosts[r.record.rolloutId] ?? {})))
  return { rollouts, next: null }
}

/** The opaque cursor of the history page after `r`. */
export function rolloutCursor(r: RolloutRecord): string {
  return `${r.openedAt}~${r.rolloutId}`
}

/** The history position a cursor names, or undefined when it is not one. */
export function parseRolloutCursor(
  raw: string
): { readonly openedAt: number; readonly rolloutId: string } | undefined {
  const m = /^(\d{1,15})~(.+)$/.exec(raw)
  if (m === null || parseRolloutId(m[2]!) === undefined) return undefined
  return { openedAt: Number(m[1]), rolloutId: m[2]! }
}

/**
 * The `/v1/rollouts?all=1|state=…` body: a page of the history, newest first. Live host states
 * come from memory; a closed rollout's from its stored records (`storedStates`).
 */
export async function rolloutHistoryView(
  state: CpState,
  page: readonly StoredRollout[],
  limit: number,
  storedStates: (rolloutId: string) => Promise<Record<string, string>>
): Promise<{ rollouts: Record<string, unknown>[]; next: string | null }> {
  const rows = await Promise.all(
    page.slice(0, limit).map(async (s) => {
      const live = state.rollouts.get(s.record.rolloutId)?.record ?? s.record
      const mem = state.hosts[live.rolloutId]
      const states =
        isClosed(live.phase) || mem === undefined
          ? await storedStates(live.rolloutId)
          : phasesOf(mem)
      return rolloutRow(live, states)
    })
  )
  const last = page[limit - 1]
  return {
    rollouts: rows,
    next: page.length > limit && last !== undefined ? rolloutCursor(last.record) : null,
  }
}

/** The states `state=` accepts, case-insensitive. */
export function parseRolloutStates(
  raw: string,
  phases: readonly RolloutPhase[]
): RolloutPhase[] | undefined {
  const out: RolloutPhase[] = []
  for (const s of raw.split(',')) {
    const p = phases.find((x) => x.toLowerCase() === s.trim().toLowerCase())
    if (p === undefined) return undefined
    out.push(p)
  }
  return out
}

/**
 * The `/v1/rollouts/:id` body: the row plus its waves (hosts, state, the soak end on the CP's
 * clock) and the sentences that say why it is not moving.
 */
export function rolloutDetailView(
  state: CpState,
  stored: StoredRollout,
  records: readonly StoredHost[]
): Record<string, unknown> {
  const r = state.rollouts.get(stored.record.rolloutId)?.record ?? stored.record
  const id = r.rolloutId
  const byHost = new Map(records.map((s) => [s.state.hostname, s]))
  const live = state.hosts[id] ?? {}
  const recOf = (h: string): HostRolloutState | undefined => live[h] ?? byHost.get(h)?.state
  const waves = stored.policy.waves.map((w, index) => {
    const ends = w.hosts
      .map((h) => state.soakEndsAt[id]?.[h])
      .filter((t): t is number => t !== undefined)
    // A closed rollout's wave is done only if its hosts got there: one it never reached is
    // `not-started`, the one it was on when it closed `stopped`.
    const arrived = w.hosts.every(
      (h) => recOf(h)?.phase === 'Converged' || state.skipOf(id, h) !== undefined
    )
    const status = isClosed(r.phase)
      ? arrived || index < r.currentWave
        ? 'done'
        : index === r.currentWave
          ? 'stopped'
          : 'not-started'
      : index < r.currentWave
        ? 'done'
        : index === r.currentWave
          ? 'current'
          : 'waiting'
    return {
      index,
      hosts: w.hosts.map((h) => ({
        hostname: h,
        state: recOf(h)?.phase ?? null,
        skipped: state.skipOf(id, h) !== undefined,
      })),
      state: status,
      soakEndsAt: ends.length === 0 ? null : toRfc3339(Math.max(...ends)),
    }
  })
  const states: Record<string, string> = {}
  for (const s of records) states[s.state.hostname] = s.state.phase
  for (const [h, rec] of Object.entries(live)) states[h] = rec.phase
  return { ...rolloutRow(r, states), waves, gates: gateSentences(state, r, recOf) }
}

/** Why a rollout is not moving, in words an operator acts on. */
function gateSentences(
  state: CpState,
  r: RolloutRecord,
  recOf: (h: string) => HostRolloutState | undefined
): string[] {
  if (isClosed(r.phase)) return []
  const out: string[] = []
  const id = r.rolloutId
  if (r.halt !== null) {
    const h = haltView(r)!
    out.push(
      `halted: ${h.host} ${h.hostPhase} (${h.reason}); resume it, retry or skip ${h.host}, or cancel`
    )
  }
  const blocked = blockedHosts(
    Object.values(state.hosts[id] ?? {}).map((h) => ({
      hostname: h.hostname,
      phase: h.phase,
      wave: state.waveIndex.get(pairKey(id, h.hostname)) ?? 0,
      targetClosure: h.targetClosure,
      policyApplied: h.policyApplied,
      skipped: state.skipOf(id, h.hostname) !== undefined,
    }))
  )
  if (r.halt === null && blocked.length > 0) {
    const names = blocked.map((b) => `${b.hostname} ${recOf(b.hostname)?.phase ?? b.phase}`)
    out.push(`waits on ${names.join(', ')}: retry (once unquarantined) or skip, or cancel`)
  }
  const reasons = new Set<string>()
  for (const [key, g] of state.gateBlocks) {
    if (key.startsWith(`${id}\u0000`)) reasons.add(g.reason)
  }
  return [...out, ...[...reasons].sort()]
}

/** The `/v1/rollouts/:id/lifecycle` body, with the successor that superseded it, if any. */
export function lifecycleView(state: CpState, id: string): ViewResult<Record<string, unknown>> {
  const live = state.rollouts.get(id)
  if (live === undefined) return missing(404, 'unknown rollout')
  const r = live.record
  return found({
    rolloutId: id,
    state: r.phase,
    supersededAt: iso(r.supersededAt),
    supersededBy: r.supersededBy,
    terminalAt: iso(r.terminalAt),
    currentWave: r.currentWave,
    outcome: outcomeOf(r),
    halt: r.halt === null ? null : haltView(r),
    lastResume: r.lastResume === null ? null : { ...r.lastResume, at: toRfc3339(r.lastResume.at) },
  })
}

/**
 * The `/v1/rollouts/:id/hosts` body from the rollout's stored records, by wave then host.
 * `dispatchedAt` is when the dispatch reached the host (its delivery, else the agent's
 * acknowledgement); null for a host never dispatched.
 */
export function rolloutHostsView(
  state: CpState,
  id: string,
  records: readonly StoredHost[]
): ViewResult<Record<string, unknown>> {
  if (records.length === 0) return missing(404, 'no host records for this rollout')
  const ref = state.rollouts.get(id)?.record.targetRef ?? parseRolloutId(id)!.ciCommit
  const hosts = records
    .map(({ state: stored, waveIndex }) => {
      const r = state.host(id, stored.hostname) ?? stored
      const t = terminalOf(r)
      const skip = state.skipOf(id, r.hostname)
      return {
        host: r.hostname,
        channel: r.channel,
        wave: waveIndex,
        targetClosureHash: r.targetClosure,
        targetChannelRef: ref,
        dispatchedAt: iso(state.delivered.get(pairKey(id, r.hostname)) ?? r.dispatchAckedAt),
        terminalState: t.state,
        terminalAt: iso(t.at),
        state: r.phase,
        skipped:
          skip === undefined
            ? null
            : { at: toRfc3339(skip.at), by: skip.operator, reason: skip.reason },
      }
    })
    .sort((a, b) => a.wave - b.wave || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
  return found({ rolloutId: id, hosts })
}

/** The `/v1/rollouts/:id/events` body: a page of event-log rows and the cursor of the next. */
export function rolloutEventsView(
  id: string,
  events: readonly EventLogEntry[],
  limit: number
): Record<string, unknown> {
  const page = events.slice(0, limit)
  return {
    rolloutId: id,
    events: page.map((e) => ({
      seq: e.seq,
      at: toRfc3339(e.ts),
      kind: e.kind,
      host: e.host,
      payload: e.payload,
    })),
    next: events.length > limit ? (page.at(-1)?.seq ?? null) : null,
  }
}
