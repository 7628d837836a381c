/**
 * The agent's verified view of the current release (protocol §3.2, §8.2; DECISIONS §3.1–3.2):
 * the newest fleet.resolved and rollout manifest of the host's own channel that passed
 * verification (`artifacts.ts`), and the decision whether a dispatch may be acted on
 * (`admission.ts`). The periodic poll is `workers/manifest-poll.ts`.
 *
 * Invariants:
 * - Nothing the CP serves is trusted: a dispatch is accepted only if it names the rollout of the
 *   newest verified manifest for this host's channel, that manifest is fresh *now*, anchors to
 *   the verified fleet, and lists this host with exactly the dispatched target closure.
 * - A verification failure never replaces a good view with a worse one: a refused fleet keeps
 *   the last view. An admitted fleet whose manifest cannot be fetched or verified is adopted
 *   without a manifest, so no dispatch is accepted until one is.
 * - Every view is built by `releaseView`.
 * - Polls run one after another, so a refresh always sees what the CP serves after it asked.
 * - A BadSignature counts only if it holds on a second fetch (`secondLook`).
 */
import * as v from 'valibot'
import type { Dispatch } from '../../proto/agent.ts'
import { RolloutIdSchema } from '../../proto/ids.ts'
import { describeClientError, type ClientResult, type SignedBytes } from '../cp-client.ts'
import { highWaterKey } from '../anchors.ts'
import { M } from '../metrics.ts'
import {
  explainForeign,
  isFresh,
  judgeDispatch,
  noViewRefusal,
  type AcceptedDispatch,
} from './admission.ts'
import { SignedArtifacts, type Refusal, type SignedArtifactsDeps } from './artifacts.ts'
import {
  ownRollout,
  releaseView,
  signedHostEntry,
  type OwnRollout,
  type ReleaseView,
  type SignedRecordFacts,
  type ViewManifest,
} from './view.ts'

/** The outcome of one poll: done, or a one-line reason it did not complete. */
export type PollResult = { ok: true } | { ok: false; error: string }

/**
 * Verifies a fetched pair; a bad signature is fetched and verified once more before it counts:
 * a CP that does not pin signatures to the bytes (older versions) may pair the bytes of one
 * release with the signature of the next one published between the two requests.
 */
async function secondLook<R extends { ok: boolean; error?: { kind: string } }>(
  first: SignedBytes,
  refetch: () => Promise<ClientResult<SignedBytes>>,
  verify: (pair: SignedBytes) => Promise<R>
): Promise<{ fetched: SignedBytes; result: R }> {
  const result = await verify(first)
  if (result.ok || result.error?.kind !== 'BadSignature') return { fetched: first, result }
  const again = await refetch()
  if (!again.ok) return { fetched: first, result }
  return { fetched: again.value, result: await verify(again.value) }
}

/** The dependencies of the cache. */
export type ManifestCacheDeps = SignedArtifactsDeps & { readonly machineId: string }

/** The verified release view, its disk cache and the dispatch decision. */
export class ManifestCache {
  private current: ReleaseView | undefined
  private polling: Promise<void> = Promise.resolve()
  private readonly artifacts: SignedArtifacts

  constructor(private readonly deps: ManifestCacheDeps) {
    this.artifacts = new SignedArtifacts(deps)
  }

  /** The newest verified release view, if any. */
  view(): ReleaseView | undefined {
    return this.current
  }

  /** Adopts a view of `fleet` (with the host's manifest, if one was verified). */
  private adopt(
    fleet: ReleaseView['fleet'],
    own: OwnRollout,
    manifest: ViewManifest | undefined
  ): void {
    this.current = releaseView(fleet, own, manifest, this.deps.freshnessWindowSecs)
  }

  /** Loads the cached artifacts of a previous run, re-verifying them at `now`. */
  async loadFromDisk(): Promise<void> {
    const now = this.deps.clock.now()
    const pair = this.artifacts.cachedFleet()
    if (!pair) return
    const fv = await this.artifacts.verifyFleet(pair, now)
    if (!fv.ok) {
      this.deps.log.info('cached fleet.resolved not usable', {
        kind: fv.error.kind,
        reason: fv.error.message,
      })
      return
    }
    if (!this.artifacts.admit('fleet', highWaterKey('fleet'), fv.verified, null)) return
    const own = ownRollout(fv.verified.value, this.deps.machineId)
    const { channel, rolloutId } = own
    let manifest: ViewManifest | undefined
    const cached = rolloutId === undefined ? undefined : this.artifacts.cachedManifest(rolloutId)
    if (channel !== undefined && rolloutId !== undefined && cached) {
      const mv = await this.artifacts.verifyManifest(cached, rolloutId, fv.verified, now)
      const key = highWaterKey('rollout-manifest', channel)
      if (mv.ok && this.artifacts.admit('rollout-manifest', key, mv.manifest.verified, rolloutId))
        manifest = mv.manifest
    }
    this.adopt(fv.verified, own, manifest)
  }

  /**
   * Fetches and verifies the CP's current fleet and this host's rollout manifest; on success
   * the view advances. Returns a one-line error when the poll did not complete.
   */
  poll(signal?: AbortSignal): Promise<PollResult> {
    // The periodic poll and a dispatch's refresh may overlap: they run one after another.
    const run = this.polling.then(() => this.pollOnce(signal))
    this.polling = run.then(
      () => {},
      () => {}
    )
    return run
  }

  private async pollOnce(signal?: AbortSignal): Promise<PollResult> {
    const a = this.artifacts
    const first = await a.fetchFleet(signal)
    if (!first.ok)
      return { ok: false, error: `fleet.resolved: ${describeClientError(first.error)}` }
    const now = this.deps.clock.now()
    const { fetched, result: fv } = await secondLook(
      first.value,
      () => a.fetchFleet(signal),
      (pair) => a.verifyFleet(pair, now)
    )
    if (!fv.ok) {
      const { kind, message } = fv.error
      a.reject({ artifact: 'fleet', kind, message, rolloutId: null }, message)
      return { ok: false, error: `fleet.resolved refused: ${kind}` }
    }
    const fleet = fv.verified
    if (!a.admit('fleet', highWaterKey('fleet'), fleet, null)) {
      return { ok: false, error: 'fleet.resolved refused: Rollback' }
    }
    const prev = this.current
    if (prev?.fleet.sha256 !== fleet.sha256) a.saveFleet(fetched)
    a.fleetAdmitted(fetched, fleet)
    const own = ownRollout(fleet.value, this.deps.machineId)
    const { channel, rolloutId } = own
    if (channel === undefined || rolloutId === undefined) {
      if (channel === undefined && a.firstTime('not-in-fleet')) {
        this.deps.log.warn('this host is not in the signed fleet', {
          machineId: this.deps.machineId,
        })
      }
      return this.completed(fleet, own, undefined, now)
    }
    // Same fleet bytes and the manifest already verified against them: nothing new to fetch.
    if (prev?.fleet.sha256 === fleet.sha256 && prev.rolloutId === rolloutId && prev.manifest) {
      const kept = { verified: prev.manifest, windowSecs: prev.manifestWindowSecs }
      return this.completed(fleet, own, kept, now)
    }
    const mf0 = await a.fetchManifest(rolloutId, signal)
    if (!mf0.ok) {
      this.adopt(fleet, own, undefined)
      return {
        ok: false,
        error: `rollout manifest ${rolloutId}: ${describeClientError(mf0.error)}`,
      }
    }
    const { fetched: mf, result: mv } = await secondLook(
      mf0.value,
      () => a.fetchManifest(rolloutId, signal),
      (pair) => a.verifyManifest(pair, rolloutId, fleet, this.deps.clock.now())
    )
    if (!mv.ok) {
      this.adopt(fleet, own, undefined)
      const { kind, message } = mv.error
      a.reject(
        { artifact: 'rollout-manifest', kind, message, rolloutId },
        `${rolloutId}|${message}`
      )
      return { ok: false, error: `rollout manifest ${rolloutId} refused: ${kind}` }
    }
    const key = highWaterKey('rollout-manifest', channel)
    if (!a.admit('rollout-manifest', key, mv.manifest.verified, rolloutId)) {
      this.adopt(fleet, own, undefined)
      return { ok: false, error: `rollout manifest ${rolloutId} refused: Rollback` }
    }
    a.saveManifest(rolloutId, mf)
    const done = this.completed(fleet, own, mv.manifest, now)
    if (prev?.rolloutId !== rolloutId) {
      this.deps.log.info('rollout manifest verified', {
        rolloutId,
        signedAt: mv.manifest.verified.signedAt,
        fleetResolvedHash: fleet.sha256,
      })
    }
    return done
  }

  /** Adopts the view of a complete poll and records it. */
  private completed(
    fleet: ReleaseView['fleet'],
    own: OwnRollout,
    manifest: ViewManifest | undefined,
    now: number
  ): PollResult {
    this.adopt(fleet, own, manifest)
    this.artifacts.clearRejection()
    this.deps.metrics.set(
      M.lastManifest,
      'Unix time the last signed manifest was verified.',
      Math.floor(now / 1000)
    )
    return { ok: true }
  }

  /** Decides whether `dispatch` may be acted on; refreshes the view when it is not current. */
  async acceptDispatch(
    dispatch: Dispatch,
    signal?: AbortSignal
  ): Promise<{ ok: true; value: AcceptedDispatch } | { ok: false; refusal: Refusal }> {
    const rolloutId = dispatch.rollout_id as string
    const { machineId, clock } = this.deps
    if (dispatch.hostname !== machineId) {
      const message = `dispatch is addressed to ${dispatch.hostname}, not ${machineId}`
      return { ok: false, refusal: { kind: 'WrongHost', message, rolloutId } }
    }
    if (this.current?.rolloutId !== rolloutId || !isFresh(this.current, clock.now()))
      await this.poll(signal)
    const view = this.current
    if (!view) return { ok: false, refusal: noViewRefusal(rolloutId, this.artifacts.lastRejection) }
    const verdict = judgeDispatch(dispatch, view, machineId, clock.now())
    if (verdict.ok || 'refusal' in verdict) return verdict
    const refusal = await explainForeign(rolloutId, view, this.artifacts, () => clock.now(), signal)
    return { ok: false, refusal }
  }

  /**
   * The signed facts for a record rebuilt from a CP snapshot: its target and policy, but only
   * when `rolloutId` is the current verified rollout of this host (never from the CP's word).
   */
  signedRecordFacts(rolloutId: string): SignedRecordFacts | undefined {
    const view = this.current
    if (!v.is(RolloutIdSchema, rolloutId) || view?.rolloutId !== rolloutId) return undefined
    const entry = view && signedHostEntry(view, this.deps.machineId)
    if (!entry?.policy) return undefined
    const { targetClosure, channel, waveIndex, policy } = entry
    return { targetClosure, channel, waveIndex, policy }
  }
}
