/**
 * The operator read models of `/v1/operator/*` (DECISIONS §3.13): status (readiness, the adopted
 * release, every artifact's adoption status and high-water mark, queue depths), quarantines
 * (with where each came from), the audit trail, the emergency denials, and the result of a
 * refresh. Pure: functions of the state snapshot and the few live figures the
 * route passes in.
 */
import { toRfc3339 } from '../../../proto/common.ts'
import type { StoredAction } from '../../../db/store.ts'
import type { AdoptedRelease, CpState } from '../../state.ts'
import { iso, lastErrorView } from './common.ts'

/** The live figures `/v1/operator/status` shows besides the state. */
export type StatusFigures = {
  readonly ready: boolean
  readonly mutatorQueueDepth: number
  readonly openLongPolls: number
  /** This replica's place among the control planes sharing one PostgreSQL (none on SQLite). */
  readonly replica?: ReplicaFigures | undefined
}

/** A replica's id, role and fence epoch (the leader's as last seen, on a follower). */
export type ReplicaFigures = {
  readonly id: string
  readonly role: 'leader' | 'follower'
  readonly epoch: number
}

const fleetOf = (release: AdoptedRelease) => ({
  sha256: release.fleet.sha256,
  signedAt: release.fleet.signedAt,
  ciCommit: release.fleet.ciCommit,
})

const rolloutIdsOf = (release: AdoptedRelease): string[] =>
  Object.values(release.manifests)
    .map((m) => m.rolloutId)
    .sort()

/** The `/v1/operator/status` body. */
export function statusView(state: CpState, figures: StatusFigures): Record<string, unknown> {
  const release = state.release
  return {
    ready: figures.ready,
    release:
      release === undefined
        ? null
        : {
            fleet: fleetOf(release),
            adoptedAt: toRfc3339(release.adoptedAt),
            rollouts: rolloutIdsOf(release),
          },
    artifacts: [...state.status.values()]
      .sort((a, b) => (a.key < b.key ? -1 : 1))
      .map((s) => ({
        key: s.key,
        adopted:
          s.adopted === null
            ? null
            : {
                sha256: s.adopted.sha256,
                signedAt: s.adopted.signedAt,
                at: toRfc3339(s.adopted.at),
              },
        lastCheckedAt: iso(s.lastCheckedAt),
        lastError: lastErrorView(s.lastError),
      })),
    highWaterMarks: Object.fromEntries(
      [...state.marks].map(([k, m]) => [
        k,
        { signedAt: toRfc3339(m.signedAtMs), ciCommit: m.ciCommit, sha256: m.sha256 },
      ])
    ),
    reducerQueueDepth: figures.mutatorQueueDepth,
    dispatchQueueDepth: state.dispatchDepth(),
    openLongPolls: figures.openLongPolls,
    lastPlanAt: iso(state.lastPlanAt),
    ...(figures.replica === undefined ? {} : { replica: { ...figures.replica } }),
  }
}

/** Where a quarantine came from: the host that rolled back from the closure, in which rollout. */
export type QuarantineSource = {
  readonly host: string | null
  readonly rolloutId: string | null
}

/**
 * The `/v1/operator/quarantines` body, by channel then closure: each with the host and rollout
 * it came from (`sourceOf`, from the event that quarantined it) and why that host failed.
 */
export function quarantinesView(
  state: CpState,
  sourceOf: (channel: string, closure: string) => QuarantineSource
): { quarantines: Record<string, unknown>[] } {
  const rows = [...state.quarantines].flatMap(([channel, m]) =>
    [...m].map(([closure, at]) => {
      const src = sourceOf(channel, closure)
      const halt =
        src.rolloutId === null ? null : (state.rollouts.get(src.rolloutId)?.record.lastHalt ?? null)
      const failure = halt !== null && halt.hostname === src.host ? halt.failure : undefined
      const reason =
        src.host === null
          ? 'a host rolled back from it'
          : `${src.host} rolled back from it${failure === undefined ? '' : `: ${failure.reason}`}`
      return {
        channel,
        closure,
        reason,
        rolloutId: src.rolloutId,
        host: src.host,
        at: toRfc3339(at),
      }
    })
  )
  rows.sort((a, b) => (a.channel + a.closure < b.channel + b.closure ? -1 : 1))
  return { quarantines: rows }
}

/** The `/v1/operator/audit` body: a page of operator actions, oldest first. */
export function auditView(
  actions: readonly StoredAction[],
  limit: number
): { actions: Record<string, unknown>[]; next: number | null } {
  const page = actions.slice(0, limit)
  return {
    actions: page.map((a) => ({
      id: a.id,
      at: toRfc3339(a.at),
      operator: a.operator,
      action: a.action,
      target: a.target,
      reason: a.reason,
    })),
    next: actions.length > limit ? (page.at(-1)?.id ?? null) : null,
  }
}

/** The `/v1/operator/denials` body, by kind then name. */
export function denialsView(state: CpState): { denials: Record<string, unknown>[] } {
  const denials = [...state.denials.values()]
    .sort((a, b) => (a.kind + a.name < b.kind + b.name ? -1 : 1))
    .map((d) => ({ kind: d.kind, name: d.name, reason: d.reason, by: d.by, at: toRfc3339(d.at) }))
  return { denials }
}

/** The `POST /v1/operator/refresh` body: what is adopted after the refresh, and what failed. */
export function refreshView(state: CpState, refreshed: boolean): Record<string, unknown> {
  const release = state.release
  return {
    refreshed,
    fleet: release === undefined ? null : fleetOf(release),
    rollouts: release === undefined ? [] : rolloutIdsOf(release),
    errors: [...state.status.values()]
      .filter((s) => s.lastError !== null)
      .map((s) => ({ key: s.key, kind: s.lastError!.kind, message: s.lastError!.message })),
  }
}
