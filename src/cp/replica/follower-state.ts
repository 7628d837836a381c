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
 * - The stored artifacts are verified again only when they changed since the last refresh, or
 *   a minute passed (a verdict can change with time alone), so a refresh costs the database
 *   reads, not signature checks.
 */
import { highWaterKey } from '../../core/release/anti-rollback.ts'
import type { Store } from '../../db/store.ts'
import type { BootstrapNonces } from '../../proto/bootstrap.ts'
import type { ArtifactOutcome } from '../mutator/inputs.ts'
import { CpState, type AdoptedArtifact, type AdoptedManifest } from '../state.ts'
import {
  verifyStored,
  type RestoreOptions,
  type StoredOutcomes,
  type VerifiedCache,
} from '../workers/restore.ts'

/** Refreshes `live` from the database; returns the hosts that now have a dispatch queued. */
export async function refreshFollowerState(
  live: CpState,
  store: Store,
  opts: RestoreOptions,
  cache: { current: VerifiedCache }
): Promise<string[]> {
  const next = new CpState()
  await next.load(store)
  const verified = await verifyStored(store, opts, cache)
  live.takeDurable(next)
  adoptVerified(live, verified, opts.clock.now())
  return [...live.dispatch.keys()]
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
