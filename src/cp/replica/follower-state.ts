/**
 * A follower replica's view of the fleet: the leader's committed state, rebuilt from PostgreSQL
 * after each commit the leader announces (`CommitFeed`), with the release and signed lists the
 * leader adopted verified again here from their stored bytes (`verifyStored`), exactly as a
 * restarting CP would. A follower never decides anything: its inputs go to the leader
 * (`RemoteMutator`), and this refresh is the only writer of its state.
 * Invariants:
 * - The live `CpState` object is updated in place and in one synchronous step once everything is
 *   read and verified (handlers never see a half-loaded state); what this process measured itself
 *   is kept (`CpState.takeDurable`).
 * - A refresh of everything reads every table; a full one all but the known hosts and, unless
 *   the closed rollouts changed, the retired records (the largest tables, read for views); the
 *   quick one after most commits reads the few small tables that must be current at once (see
 *   `refreshFollowerQuick`).
 * - The stored artifacts are verified again only when they changed since the last refresh, or
 *   a minute passed (a verdict can change with time alone), so a refresh costs the database
 *   reads, not signature checks.
 */
import { isClosed } from '../../core/index.ts'
import { highWaterKey } from '../../core/release/anti-rollback.ts'
import type { Store } from '../../db/store.ts'
import type { BootstrapNonces } from '../../proto/bootstrap.ts'
import type { ArtifactOutcome } from '../mutator/inputs.ts'
import { CpState, denialKey, type AdoptedArtifact, type AdoptedManifest } from '../state.ts'
import {
  verifyStored,
  type RestoreOptions,
  type StoredOutcomes,
  type VerifiedCache,
} from '../workers/restore.ts'

/**
 * The quick refresh after a commit: only the small tables a follower must follow at once — the
 * dispatch queue (its parked long-polls), rollouts, denials (a denied agent is cut off here too)
 * and quarantines; the rest waits for the next full refresh.
 */
export async function refreshFollowerQuick(live: CpState, store: Store): Promise<void> {
  const [dispatch, rollouts, denials, quarantines] = await Promise.all([
    store.dispatch.all(),
    store.rollouts.loadAll(),
    store.operator.denials(),
    store.safety.quarantines(),
  ])
  live.dispatch.clear()
  for (const d of dispatch) live.putDispatch(d)
  live.rollouts.clear()
  for (const r of rollouts)
    live.rollouts.set(r.record.rolloutId, {
      record: r.record,
      policy: r.policy,
      budgets: r.budgets,
    })
  live.denials.clear()
  for (const d of denials) live.denials.set(denialKey(d.kind, d.name), d)
  live.quarantines.clear()
  for (const q of quarantines) live.addQuarantine(q.channel, q.closure, q.quarantinedAt)
}

/**
 * Refreshes `live` from the database. Unless
 * `everything`, the two largest tables are kept from `live` instead of read again: the known
 * hosts (views only; a follower's last-seen comes from its own heartbeats and the database's,
 * refreshed once per heartbeat interval) and the retired records, which are read again whenever
 * a rollout closed or was pruned, or a closed rollout's record settled, since the last refresh.
 */
export async function refreshFollowerState(
  live: CpState,
  store: Store,
  opts: RestoreOptions,
  cache: { current: VerifiedCache },
  everything: boolean
): Promise<void> {
  const next = new CpState()
  await next.load(
    store,
    everything
      ? undefined
      : {
          knownHosts: live.knownHosts,
          retired: (loading) =>
            closedShape(loading) === closedShape(live) ? live.retired : undefined,
        }
  )
  const verified = await verifyStored(store, opts, cache)
  live.takeDurable(next)
  adoptVerified(live, verified, opts.clock.now())
}

/**
 * What decides the retired records: the closed rollouts with their phases, and how many of
 * their records are still live (underway). Equal shapes, equal retired records (a record moves
 * into `retired` only when its rollout closes or it settles there; pruning steps the rollout's
 * phase and deletes its records).
 */
function closedShape(state: CpState): string {
  const closed = [...state.rollouts.values()]
    .filter((r) => isClosed(r.record.phase))
    .map((r) => `${r.record.rolloutId} ${r.record.phase}`)
    .sort()
  const underway = closed.map(
    (k) => Object.keys(state.hosts[k.slice(0, k.indexOf(' '))] ?? {}).length
  )
  return JSON.stringify([closed, underway])
}

function adoptedStatus(live: CpState, key: string, a: AdoptedArtifact<unknown>, now: number): void {
  const prev = live.status.get(key)?.adopted
  live.status.set(key, {
    key,
    adopted: {
      sha256: a.sha256,
      signedAt: a.signedAt,
      at: prev?.sha256 === a.sha256 ? prev.at : now,
    },
    lastCheckedAt: now,
    lastError: null,
  })
}

function refusedStatus(
  live: CpState,
  key: string,
  outcome: ArtifactOutcome<unknown>,
  now: number
): void {
  if (outcome.ok) return
  live.status.set(key, {
    key,
    adopted: live.status.get(key)?.adopted ?? null,
    lastCheckedAt: now,
    lastError: { kind: outcome.kind, message: outcome.message, at: now },
  })
}

/** Puts what verified into `live`, as the leader's adoption did (no marks move here). */
function adoptVerified(live: CpState, verified: StoredOutcomes, now: number): void {
  const { release, lists } = verified
  if (release !== undefined) {
    const fleetKey = highWaterKey('fleet')
    if (release.fleet.ok) {
      const fleet = release.fleet.artifact
      const manifests: Record<string, AdoptedManifest> = {}
      for (const [channel, m] of Object.entries(release.manifests)) {
        const key = highWaterKey('rollout-manifest', channel)
        if (!m.ok) {
          refusedStatus(live, key, m, now)
          continue
        }
        manifests[channel] = { ...m.artifact, rolloutId: m.rolloutId }
        adoptedStatus(live, key, m.artifact, now)
      }
      live.release = { fleet, manifests, adoptedAt: now }
      adoptedStatus(live, fleetKey, fleet, now)
    } else refusedStatus(live, fleetKey, release.fleet, now)
  }
  for (const { kind, outcome } of lists) {
    const key = highWaterKey(kind)
    if (!outcome.ok) {
      refusedStatus(live, key, outcome, now)
      continue
    }
    adoptedStatus(live, key, outcome.artifact, now)
    if (kind === 'revocations') live.revocationsAdopted = outcome.artifact
    else {
      live.noncesAdopted = outcome.artifact
      const value = outcome.artifact.value as BootstrapNonces
      live.nonces = new Map(value.bootstrapNonces.map((n) => [n.nonce, n]))
    }
  }
}
