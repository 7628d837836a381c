/**
 * What the control plane knows of its target closures in the binary cache hosts fetch from
 * (`--closure-check-url`, else `--closure-upstream`): the book the availability worker's
 * results are kept in, and the views read from it — the planner's `closures` input, a host's
 * `closure-missing` fact, the per-channel count of hosts held for a missing closure.
 *
 * Invariants: the book changes only through the mutator (`ClosureChecked`); with no cache
 * configured (`cache` undefined) every view is empty or absent and nothing is held; the closures
 * wanted are those the adopted release's manifests name, so the book is bounded by the fleet.
 */
import type { ClosureAvailability, ClosureStatus } from '../core/index.ts'
import type { RolloutManifest } from '../proto/manifest.ts'
import type { CpState } from './state.ts'

/** The last check of one closure. */
export type ClosureSeen = {
  readonly status: ClosureStatus
  /** When it was checked. */
  readonly at: number
  /** Since when it has had this status (a status first seen at `at`). */
  readonly since: number
  readonly message: string | null
}

/** The cache the CP checks (undefined: none) and its findings, by closure basename. */
export class ClosureBook {
  cache: string | undefined
  readonly seen = new Map<string, ClosureSeen>()
}

// The worker asks every second; an adopted release is a new object, so this is computed once each.
const wantedIndex = new WeakMap<object, readonly string[]>()

/** The distinct target closures of the adopted release, sorted. */
export function wantedClosures(state: CpState): readonly string[] {
  const release = state.release
  if (release === undefined) return []
  let wanted = wantedIndex.get(release)
  if (wanted === undefined) {
    const out = new Set<string>()
    for (const m of Object.values(release.manifests))
      for (const entry of m.value.hostSet) out.add(entry.targetClosure)
    wanted = [...out].sort()
    wantedIndex.set(release, wanted)
  }
  return wanted
}

/** The planner's view: the cache and the status of each wanted closure; undefined when off. */
export function closureView(state: CpState): ClosureAvailability | undefined {
  const { cache, seen } = state.closures
  if (cache === undefined) return undefined
  const status: Record<string, ClosureStatus> = {}
  for (const closure of wantedClosures(state)) {
    const s = seen.get(closure)
    if (s !== undefined) status[closure] = s.status
  }
  return { cache, status }
}

/**
 * The closure `host` waits for that the cache does not have: its target in its channel's
 * current manifest while its record there (if any) is still Pending.
 */
export function missingClosureOf(
  state: CpState,
  host: string
): { closure: string; cache: string; since: number } | null {
  const { cache, seen } = state.closures
  if (cache === undefined) return null
  const channel = state.release?.fleet.value.hosts[host as never]?.channel
  const m = channel === undefined ? undefined : state.release?.manifests[channel]
  const target = m === undefined ? undefined : targetsOf(m.value).get(host)
  if (m === undefined || target === undefined) return null
  const s = seen.get(target)
  if (s?.status !== 'missing') return null
  const phase = state.host(m.rolloutId, host)?.phase
  if (phase !== undefined && phase !== 'Pending') return null
  return { closure: target, cache, since: s.since }
}

// Every host's problem is looked up per plan pass and per scrape: an index per adopted manifest
// keeps that linear in the fleet (a manifest value is immutable once adopted).
const targetIndex = new WeakMap<RolloutManifest, Map<string, string>>()

/** Hostname → target closure of a manifest. */
function targetsOf(m: RolloutManifest): Map<string, string> {
  let index = targetIndex.get(m)
  if (index === undefined) {
    index = new Map(m.hostSet.map((e) => [e.hostname as string, e.targetClosure as string]))
    targetIndex.set(m, index)
  }
  return index
}

/** The hosts of each channel waiting for a closure the cache does not have. */
export function missingByChannel(state: CpState): Map<string, number> {
  const out = new Map<string, number>()
  const fleet = state.release?.fleet.value
  if (fleet === undefined) return out
  for (const channel of Object.keys(fleet.channels).sort()) out.set(channel, 0)
  for (const host of Object.keys(fleet.hosts)) {
    const channel = fleet.hosts[host as never]?.channel
    if (channel !== undefined && missingClosureOf(state, host) !== null)
      out.set(channel, (out.get(channel) ?? 0) + 1)
  }
  return out
}
