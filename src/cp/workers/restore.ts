/**
 * Start-up re-adoption: the signed artifacts the last run adopted (stored with their exact bytes
 * and signatures) are verified again now, against today's trust file and clock, and submitted to
 * the mutator as if a poll had found them (source `database`). So a restarted CP serves its last
 * release before the first poll answers, and never one that no longer verifies.
 * Invariant: what fails verification now is not submitted (the first poll decides instead).
 */
import { highWaterKey } from '../../core/release/anti-rollback.ts'
import type { Store } from '../../db/store.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { CpMutator } from '../mutator/loop.ts'
import { readTrustFile, verifyFleetPair, verifyListPair, verifyManifests } from './release-poll.ts'

/** Re-adopts the artifacts the last run stored, after verifying them again now. */
export async function restoreAdopted(
  store: Store,
  mutator: CpMutator,
  opts: { readonly trustFile: string; readonly clock: Clock; readonly freshnessWindowSecs: number }
): Promise<void> {
  const trust = await readTrustFile(opts.trustFile)
  if (!trust.ok) return
  const ctx = {
    trust: trust.trust,
    now: opts.clock.now(),
    freshnessWindowSecs: opts.freshnessWindowSecs,
  }
  const stored = new Map((await store.release.artifacts()).map((a) => [a.key, a]))
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
    if (fleet.ok)
      mutator.submit({ type: 'ReleaseVerified', outcome: { source: 'database', fleet, manifests } })
  }
  for (const kind of ['revocations', 'bootstrap-nonces'] as const) {
    const row = stored.get(highWaterKey(kind))
    if (row === undefined) continue
    const outcome = await verifyListPair(
      kind,
      { bytes: row.artifact, signature: row.signature },
      ctx
    )
    if (outcome.ok)
      mutator.submit({ type: 'ListVerified', kind, source: 'database', outcome: outcome as never })
  }
}
