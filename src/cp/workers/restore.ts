/**
 * Start-up re-adoption: the signed artifacts the last run adopted (stored with their exact bytes
 * and signatures) are verified again now, against today's trust file and clock, and submitted to
 * the mutator as if a poll had found them (source `database`). So a restarted CP serves its last
 * release before the first poll answers, and never one that no longer verifies. A follower replica
 * verifies the same rows the same way (`verifyStored`) to serve the leader's release.
 * Invariant: what fails verification now is not submitted (the first poll decides instead).
 */
import { highWaterKey } from '../../core/release/anti-rollback.ts'
import type { Store, StoredArtifact } from '../../db/store.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { ArtifactOutcome, ListKind, ReleaseOutcome } from '../mutator/inputs.ts'
import type { MutatorPort } from '../replica/mutator-port.ts'
import { readTrustFile, verifyFleetPair, verifyListPair, verifyManifests } from './release-poll.ts'

/** Where and when to verify. */
export type RestoreOptions = {
  readonly trustFile: string
  readonly clock: Clock
  readonly freshnessWindowSecs: number
}

/** What the stored artifacts verify to now; nothing for what is not stored (or no trust file). */
export type StoredOutcomes = {
  readonly release: ReleaseOutcome | undefined
  readonly lists: readonly { readonly kind: ListKind; readonly outcome: ArtifactOutcome<unknown> }[]
}

/**
 * What a follower verified last: the stored rows it verified (by key and digest) and the outcome,
 * reused while the rows are the same and the outcome is younger than `VERIFIED_REUSE_MS`.
 */
export type VerifiedCache = { digests: string; at: number; outcomes: StoredOutcomes } | undefined

// A verdict can change with time alone (a manifest's freshness window): reused for a minute only.
const VERIFIED_REUSE_MS = 60_000

/**
 * Verifies the artifacts stored in the database against today's trust file and clock; with a
 * `cache` (a follower's refresh), rows verified less than a minute ago are not verified again.
 */
export async function verifyStored(
  store: Store,
  opts: RestoreOptions,
  cache?: { current: VerifiedCache }
): Promise<StoredOutcomes> {
  const rows = await store.release.artifacts()
  const now = opts.clock.now()
  const digests = rows.map((a) => `${a.key}=${a.sha256}`).join(',')
  const hit = cache?.current
  if (hit !== undefined && hit.digests === digests && now - hit.at < VERIFIED_REUSE_MS)
    return hit.outcomes
  const outcomes = await verifyRows(rows, opts, now)
  if (cache !== undefined) cache.current = { digests, at: now, outcomes }
  return outcomes
}

async function verifyRows(
  rows: readonly StoredArtifact[],
  opts: RestoreOptions,
  now: number
): Promise<StoredOutcomes> {
  const trust = await readTrustFile(opts.trustFile)
  if (!trust.ok) return { release: undefined, lists: [] }
  const ctx = { trust: trust.trust, now, freshnessWindowSecs: opts.freshnessWindowSecs }
  const stored = new Map(rows.map((a) => [a.key, a]))
  let release: ReleaseOutcome | undefined
  const fleetRow = stored.get(highWaterKey('fleet'))
  if (fleetRow !== undefined) {
    const fleet = await verifyFleetPair(
      { bytes: fleetRow.artifact, signature: fleetRow.signature },
      ctx
    )
    const manifests = fleet.ok
      ? await verifyManifests(
          fleet.artifact,
          async (rolloutId) => {
            const channel = rolloutId.slice(0, rolloutId.indexOf('@'))
            const row = stored.get(highWaterKey('rollout-manifest', channel))
            return row === undefined
              ? { ok: false, kind: 'Unavailable', message: `no stored manifest for ${rolloutId}` }
              : { ok: true, pair: { bytes: row.artifact, signature: row.signature } }
          },
          ctx
        )
      : {}
    release = { source: 'database', fleet, manifests }
  }
  const lists: { kind: ListKind; outcome: ArtifactOutcome<unknown> }[] = []
  for (const kind of ['revocations', 'bootstrap-nonces'] as const) {
    const row = stored.get(highWaterKey(kind))
    if (row === undefined) continue
    const pair = { bytes: row.artifact, signature: row.signature }
    lists.push({ kind, outcome: await verifyListPair(kind, pair, ctx) })
  }
  return { release, lists }
}

/**
 * Re-adopts the artifacts the last run stored, after verifying them again now; with a replica's
 * `cache`, rows it verified as a follower within the last minute are not verified again.
 */
export async function restoreAdopted(
  store: Store,
  mutator: MutatorPort,
  opts: RestoreOptions,
  cache?: { current: VerifiedCache }
): Promise<void> {
  const { release, lists } = await verifyStored(store, opts, cache)
  if (release?.fleet.ok === true) mutator.submit({ type: 'ReleaseVerified', outcome: release })
  for (const { kind, outcome } of lists)
    if (outcome.ok)
      mutator.submit({ type: 'ListVerified', kind, source: 'database', outcome: outcome as never })
}
