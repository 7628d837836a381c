/**
 * The operator read models of `/v1/operator/*` (DECISIONS §3.13): status (readiness, the adopted
 * release, every artifact's adoption status and high-water mark, queue depths), quarantines, and
 * the result of a refresh. Pure: functions of the state snapshot and the few live figures the
 * route passes in.
 */
import { toRfc3339 } from '../../../proto/common.ts'
import type { AdoptedRelease, CpState } from '../../state.ts'
import { iso, lastErrorView } from './common.ts'

/** The live figures `/v1/operator/status` shows besides the state. */
export type StatusFigures = {
  readonly ready: boolean
  readonly mutatorQueueDepth: number
  readonly openLongPolls: number
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
  }
}

/** The `/v1/operator/quarantines` body, by channel then closure. */
export function quarantinesView(state: CpState): {
  quarantines: { channel: string; closure: string; quarantinedAt: string }[]
} {
  const quarantines = [...state.quarantines].flatMap(([channel, m]) =>
    [...m].map(([closure, at]) => ({ channel, closure, quarantinedAt: toRfc3339(at) }))
  )
  quarantines.sort((a, b) => (a.channel + a.closure < b.channel + b.closure ? -1 : 1))
  return { quarantines }
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
