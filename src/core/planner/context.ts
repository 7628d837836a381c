/**
 * The indexes one planning pass builds before it visits candidates, so that every gate answers
 * in O(1) or O(edges of the host) and a pass stays linear in the number of hosts.
 *
 * Invariants:
 * - Built from the inputs only; nothing here outlives the pass, so Maps and Sets are fine
 *   (they never enter state, events or actions).
 * - A host's gating wave is the index of the first wave of `fleet.waves[channel]` listing it
 *   (spec §2.7); `null` marks a host of a staged channel that no wave lists (default-deny).
 * - Budget membership and in-flight counts come from one `BudgetIndex` per pass; its in-flight
 *   sets grow as `planNext` queues dispatches (the within-tick accumulator).
 */
import type {
  ChannelEdge,
  DisruptionBudget,
  HostEdge,
  ManifestSet,
  QuarantineSet,
  RolloutManifest,
} from '../types.ts'
import { rolloutIdOf } from '../types.ts'
import { deferredCountsAsDoneOf } from '../host/policy.ts'
import { formatSpan } from '../host/problem.ts'
import type { BudgetIndex, BudgetSlot } from './budget-index.ts'
import type { FleetState, GateBlock, HostRecordView, RolloutView } from './types.ts'

export type { BudgetSlot } from './budget-index.ts'

/** A Pending, unacknowledged host of an open rollout, waiting for the gates. */
export type Candidate = {
  readonly rolloutId: string
  readonly channel: string
  readonly hostname: string
  readonly targetClosure: string
  /** The manifest's wave index (soak lookup). */
  readonly waveIndex: number
  /** The gating wave (position in `fleet.waves[channel]`), `null` when unstaged. */
  readonly wave: number | null
}

/** The enforce-probe failures of one wave (compliance-wave gate). */
export type WaveFailures = { readonly count: number; readonly hosts: readonly string[] }

/** Everything the gates need to know about one open rollout in this pass. */
export type RolloutPlan = {
  readonly rolloutId: string
  readonly channel: string
  readonly rollout: RolloutView
  readonly manifest: RolloutManifest
  readonly records: Readonly<Record<string, HostRecordView>>
  /** Whether the channel has resolved waves (unstaged hosts are then denied). */
  readonly staged: boolean
  /** The wave cursor after this pass's advancement. */
  readonly currentWave: number
  /** Why the current wave is not done, for wave-promotion reasons. */
  readonly waveProgress: string
  readonly candidates: readonly Candidate[]
  /** The capped budgets of this rollout that contain `host` (looked up on demand). */
  readonly budgetsOf: (host: string) => readonly BudgetSlot[]
  readonly failuresByWave: readonly WaveFailures[]
  /** The manifest's `healthGate.deferredCountsAsDone`: a Deferred host counts as done. */
  readonly deferredCountsAsDone: boolean
}

/** The indexes shared by all rollouts of the pass. */
export type PlanContext = {
  readonly manifests: ManifestSet
  readonly fleetState: FleetState
  readonly quarantined: ReadonlyMap<string, ReadonlySet<string>>
  readonly hostEdgesByGated: ReadonlyMap<string, readonly HostEdge[]>
  readonly channelEdgesByGated: ReadonlyMap<string, readonly ChannelEdge[]>
  /** A shared empty list, so gates need not allocate one per candidate. */
  readonly none: readonly never[]
  /** The hosts in flight per budget selector key, including those queued earlier this pass. */
  readonly inFlight: ReadonlyMap<string, ReadonlySet<string>>
  /** The control plane's clock for this pass (CP-side soak ends are compared with it). */
  readonly now: number
}

/** A gate: one pure rule, `undefined` when it lets the candidate through. */
export type Gate = (
  ctx: PlanContext,
  plan: RolloutPlan,
  candidate: Candidate
) => GateBlock | undefined

const MAX_NAMED = 3

/** `a, b, c, +N more` for operator-facing reasons. */
export function nameList(names: readonly string[]): string {
  const shown = names.slice(0, MAX_NAMED).join(', ')
  return names.length > MAX_NAMED ? `${shown}, +${names.length - MAX_NAMED} more` : shown
}

/** The gating-wave index of every host listed in `fleet.waves[channel]`. */
function gatingWaves(manifests: ManifestSet, channel: string): Map<string, number> {
  const out = new Map<string, number>()
  const waves = manifests.fleet.waves[channel] ?? []
  waves.forEach((wave, i) => {
    for (const host of wave.hosts) if (!out.has(host)) out.set(host, i)
  })
  return out
}

// A Deferred host is not running its target yet: done only where the policy opts in.
function isWaveDone(phase: HostRecordView['phase'] | undefined, deferredDone: boolean): boolean {
  return phase === 'Converged' || (deferredDone && phase === 'Deferred')
}

/**
 * When a Converged host's soak ends on the CP's clock, if that is still ahead of `now`; `null`
 * once it has passed, when none is known, or for any other phase.
 */
export function cpSoakingUntil(
  fleetState: FleetState,
  rolloutId: string,
  rec: HostRecordView | undefined,
  now: number
): number | null {
  if (rec?.phase !== 'Converged') return null
  const end = fleetState.soakEndsAt?.[rolloutId]?.[rec.hostname]
  return end !== undefined && end > now ? end : null
}

/** Whether an operator skipped a host in a rollout. */
export function isSkipped(fleetState: FleetState, rolloutId: string, host: string): boolean {
  return fleetState.skipped?.[rolloutId]?.[host] !== undefined
}

/**
 * Whether a host's record lets what it gates go on: Converged (and soaked on the CP's clock),
 * skipped by an operator, or Deferred when the policy says a deferred host counts as done
 * (`deferredDone`).
 */
export function isHostDone(
  fleetState: FleetState,
  rolloutId: string,
  rec: HostRecordView | undefined,
  now: number,
  deferredDone: boolean
): boolean {
  if (rec !== undefined && isSkipped(fleetState, rolloutId, rec.hostname)) return true
  return (
    isWaveDone(rec?.phase, deferredDone) && cpSoakingUntil(fleetState, rolloutId, rec, now) === null
  )
}

/** A host's phase in a gate sentence: a Deferred host is `waiting for reboot`. */
export function describeWaiting(phase: string): string {
  return phase === 'Deferred' ? 'waiting for reboot' : phase
}

/**
 * `soak ends 12:10:00, in 1m42s (control plane clock)`, in UTC (epoch ms carry no leap
 * seconds): when, and how long from `now`, so an operator need not do the sum.
 */
export function describeCpSoak(until: number, now: number): string {
  const secs = Math.floor(until / 1000) % 86_400
  const hms = [Math.floor(secs / 3600), Math.floor(secs / 60) % 60, secs % 60]
  const at = hms.map((n) => String(n).padStart(2, '0')).join(':')
  return `${SOAK_PREFIX}${at}, in ${formatSpan(until - now)} (control plane clock)`
}

const SOAK_PREFIX = 'soak ends '

/** `web-01 Pending (refused: Stale)`: a host, its phase, and its problem if it has one. */
export function describeHost(fleetState: FleetState, host: string, phase: string): string {
  const problem = fleetState.hostProblems?.[host]
  return problem === undefined ? `${host} ${phase}` : `${host} ${phase} (${problem})`
}

/** The budgets in force for a rollout: its manifest's if current, else the frozen snapshot. */
function budgetsOfRollout(
  manifests: ManifestSet,
  fleetState: FleetState,
  rollout: RolloutView
): readonly DisruptionBudget[] {
  const manifest = manifests.rollouts[rollout.channel]
  if (
    manifest !== undefined &&
    rolloutIdOf(rollout.channel, manifest.channelRef) === rollout.rolloutId
  ) {
    return manifest.disruptionBudgets
  }
  return fleetState.budgets?.[rollout.rolloutId] ?? []
}

function describeProgress(
  fleetState: FleetState,
  wave: number,
  pending: readonly { host: string; phase: string }[]
): string {
  // A host with a problem is why the wave does not move: those are named first, with it.
  const troubled = pending.filter((p) => fleetState.hostProblems?.[p.host] !== undefined)
  if (troubled.length > 0) {
    const rest = pending.filter((p) => fleetState.hostProblems?.[p.host] === undefined)
    return nameList(
      [...troubled, ...rest].map((p) => describeHost(fleetState, p.host, describeWaiting(p.phase)))
    )
  }
  if (pending.every((p) => p.phase === 'Deferred')) {
    return `${nameList(pending.map((p) => p.host))} ${describeWaiting('Deferred')}`
  }
  if (pending.every((p) => p.phase.startsWith(SOAK_PREFIX))) {
    return nameList(pending.map((p) => `${p.host} ${p.phase}`))
  }
  const phases = new Set(pending.map((p) => p.phase))
  const only = phases.size === 1 ? [...phases][0] : undefined
  if (only === 'Soaking' || only === 'Activating' || only === 'Pending') {
    const names = nameList(pending.map((p) => p.host))
    return `wave ${wave} still ${only.toLowerCase()} (${names})`
  }
  return `wave ${wave} not done (${nameList(pending.map((p) => `${p.host} ${describeWaiting(p.phase)}`))})`
}

/** The plan of one open rollout: wave advancement, candidates, budgets and failures. */
export function buildRolloutPlan(
  manifests: ManifestSet,
  fleetState: FleetState,
  manifest: RolloutManifest,
  rollout: RolloutView,
  budgets: BudgetIndex,
  now: number
): RolloutPlan {
  const channel = rollout.channel
  const rolloutId = rollout.rolloutId
  const records = fleetState.hosts[rolloutId] ?? {}
  const waves = manifests.fleet.waves[channel] ?? []
  const staged = waves.length > 0
  const waveOf = gatingWaves(manifests, channel)
  const deferredCountsAsDone = deferredCountsAsDoneOf(manifest.healthGate)

  // Members of each wave among this rollout's hosts; a wave without members is vacuously done.
  const members: string[][] = waves.map(() => [])
  for (const entry of manifest.hostSet) {
    const w = waveOf.get(entry.hostname)
    if (w !== undefined) members[w]?.push(entry.hostname)
  }
  // Sorted so reasons name the same hosts whatever order the manifest lists them in.
  for (const m of members) m.sort()
  const notDone = (w: number): { host: string; phase: string }[] =>
    (members[w] ?? [])
      .filter((h) => !isHostDone(fleetState, rolloutId, records[h], now, deferredCountsAsDone))
      .map((h) => {
        const until = cpSoakingUntil(fleetState, rolloutId, records[h], now)
        const phase = until !== null ? describeCpSoak(until, now) : records[h]?.phase
        return { host: h, phase: phase ?? 'no record' }
      })

  // Halt means halt: a halted rollout's cursor does not move either.
  let currentWave = rollout.currentWave
  if (staged && rollout.halt === null) {
    while (currentWave + 1 < waves.length && notDone(currentWave).length === 0) currentWave++
  }
  const remaining = staged ? notDone(currentWave) : []
  const waveProgress =
    remaining.length > 0 ? describeProgress(fleetState, currentWave, remaining) : ''

  const candidates: Candidate[] = []
  for (const entry of manifest.hostSet) {
    const rec = records[entry.hostname]
    if (rec === undefined || rec.phase !== 'Pending' || rec.dispatchAckedAt !== null) continue
    if (isSkipped(fleetState, rolloutId, entry.hostname)) continue
    candidates.push({
      rolloutId,
      channel,
      hostname: entry.hostname,
      targetClosure: rec.targetClosure,
      waveIndex: entry.waveIndex,
      wave: staged ? (waveOf.get(entry.hostname) ?? null) : 0,
    })
  }

  const failuresByWave: { count: number; hosts: string[] }[] = waves.map(() => ({
    count: 0,
    hosts: [],
  }))
  const outstanding = fleetState.outstandingEnforceFailures?.[rolloutId] ?? {}
  for (const host of Object.keys(outstanding).sort()) {
    const n = outstanding[host] ?? 0
    const w = waveOf.get(host)
    const bucket = w === undefined ? undefined : failuresByWave[w]
    // A host an operator skipped no longer holds later waves back, its failures included.
    if (n <= 0 || bucket === undefined || isSkipped(fleetState, rolloutId, host)) continue
    bucket.count += n
    bucket.hosts.push(host)
  }

  return {
    rolloutId,
    channel,
    rollout,
    manifest,
    records,
    staged,
    currentWave,
    waveProgress,
    candidates,
    budgetsOf: (host) => budgets.slotsFor(rolloutId, host),
    failuresByWave,
    deferredCountsAsDone,
  }
}

/** The shared indexes of a pass: quarantines, edges and the budgets' in-flight hosts. */
export function buildPlanContext(
  manifests: ManifestSet,
  fleetState: FleetState,
  quarantines: QuarantineSet,
  budgets: BudgetIndex,
  now: number
): PlanContext {
  const quarantined = new Map<string, ReadonlySet<string>>()
  for (const channel of Object.keys(quarantines)) {
    quarantined.set(channel, new Set(quarantines[channel]))
  }
  return {
    manifests,
    fleetState,
    quarantined,
    hostEdgesByGated: groupBy(manifests.fleet.edges, (e) => e.gated),
    channelEdgesByGated: groupBy(manifests.fleet.channelEdges, (e) => e.gated),
    inFlight: budgets.inFlight,
    none: [],
    now,
  }
}

/** The budgets of every known rollout, by rollout id (input of `buildBudgetIndex`). */
export function budgetsByRollout(
  manifests: ManifestSet,
  fleetState: FleetState
): Map<string, readonly DisruptionBudget[]> {
  const out = new Map<string, readonly DisruptionBudget[]>()
  for (const rolloutId of Object.keys(fleetState.rollouts).sort()) {
    const rollout = fleetState.rollouts[rolloutId]
    if (rollout !== undefined) out.set(rolloutId, budgetsOfRollout(manifests, fleetState, rollout))
  }
  return out
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const item of items) {
    const k = key(item)
    const list = out.get(k)
    if (list === undefined) out.set(k, [item])
    else list.push(item)
  }
  return out
}
