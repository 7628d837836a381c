/**
 * The durable side of `CpState`: rebuilding it from the database (`loadDurable`) and a live
 * state taking a freshly loaded one's durable parts in place (`takeDurable`).
 *
 * Invariants:
 * - `loadDurable` fills a fresh state only; it reads every table the state mirrors, so a loaded
 *   state equals one the mutator built by committing the same rows.
 * - `takeDurable` replaces every field except the per-process ones (`PER_PROCESS`): what the
 *   process measured or was configured with, which the database does not hold.
 */
import type { Store } from '../db/store.ts'
import { denialKey, type CpState } from './state.ts'

/**
 * The fields a process keeps across `takeDurable`: its own observations and settings, which the
 * database does not hold.
 */
const PER_PROCESS: ReadonlySet<string> = new Set([
  'freshnessWindowSecs',
  'closures',
  'heartbeats',
  'enrolmentRefusals',
  'soakEndsAt',
  'gateBlocks',
  'decisions',
  'delivered',
  'status',
  'lastPlanAt',
])

/**
 * What a follower's refresh may keep from the state it holds instead of reading it again (the
 * two largest tables): the known hosts, and the retired records — `retired` is asked once the
 * rollouts are loaded, and answers `undefined` when they must be read.
 */
export type LoadReuse = {
  readonly knownHosts?: CpState['knownHosts'] | undefined
  readonly retired?: ((loading: CpState) => CpState['retired'] | undefined) | undefined
}

/** Rebuilds the durable parts of `state` (fresh) from the database, but what `reuse` keeps. */
export async function loadDurable(
  state: CpState,
  store: Store,
  reuse: LoadReuse = {}
): Promise<void> {
  for (const r of await store.rollouts.loadAll()) {
    state.rollouts.set(r.record.rolloutId, {
      record: r.record,
      policy: r.policy,
      budgets: r.budgets,
    })
  }
  for (const h of await store.hosts.loadLive()) state.putHost(h.state, h.waveIndex)
  const retired = reuse.retired?.(state)
  if (retired === undefined)
    for (const h of await store.hosts.loadRetired()) state.retire(h.state, h.waveIndex)
  else Reflect.set(state, 'retired', withoutLive(state, retired))
  for (const q of await store.safety.quarantines())
    state.addQuarantine(q.channel, q.closure, q.quarantinedAt)
  for (const r of await store.security.revocations()) state.revocations.set(r.hostname, r)
  for (const n of await store.security.usedNonces()) state.usedNonces.set(n.nonce, n)
  if (reuse.knownHosts !== undefined) Reflect.set(state, 'knownHosts', reuse.knownHosts)
  else for (const h of await store.knownHosts.all()) state.knownHosts.set(h.hostname, h)
  for (const d of await store.dispatch.all()) state.putDispatch(d)
  for (const f of await store.safety.probeFailureKeys())
    state.addProbeFailure(f.rolloutId, f.host, f.item)
  for (const s of await store.operator.skips()) state.putSkip(s)
  for (const d of await store.operator.denials()) state.denials.set(denialKey(d.kind, d.name), d)
  for (const m of await store.release.marks()) {
    state.marks.set(m.key, { signedAtMs: m.signedAtMs, ciCommit: m.ciCommit, sha256: m.sha256 })
  }
  state.nextSeq = await store.events.nextSeq()
}

/**
 * `retired` without the records `state` holds live (a late event stepped a retired record),
 * copying only the maps it changes: `retired` is still another state's.
 */
function withoutLive(state: CpState, retired: CpState['retired']): CpState['retired'] {
  const out = { ...retired }
  const copied = new Set<string>()
  for (const [host, rollouts] of state.byHost)
    for (const rolloutId of rollouts) {
      const m = out[rolloutId]
      if (m?.[host] === undefined) continue
      if (!copied.has(rolloutId)) {
        out[rolloutId] = { ...m }
        copied.add(rolloutId)
      }
      delete out[rolloutId]![host]
    }
  for (const rolloutId of copied)
    if (Object.keys(out[rolloutId]!).length === 0) delete out[rolloutId]
  return out
}

/** Makes `into` take the durable parts of `next` (a state just loaded), keeping `PER_PROCESS`. */
export function takeDurable(into: CpState, next: CpState): void {
  for (const [key, value] of Object.entries(next))
    if (!PER_PROCESS.has(key)) Reflect.set(into, key, value)
}
