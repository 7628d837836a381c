/**
 * The agent's verified view of the current release (protocol §3.2, §8.2; DECISIONS §3.1–3.2):
 * it fetches fleet.resolved and the rollout manifest of the host's own channel from the CP,
 * verifies both itself (signature, freshness, schema), cross-checks the manifest's rollout id
 * (discriminator) and `fleetResolvedHash` (anchor), enforces the channel's own freshness window
 * and the anti-rollback marks, and decides whether a dispatch may be acted on.
 *
 * Invariants:
 * - Nothing the CP serves is trusted: a dispatch is accepted only if it names the rollout of the
 *   newest verified manifest for this host's channel, that manifest is fresh *now*, anchors to
 *   the verified fleet, and lists this host with exactly the dispatched target closure.
 * - A verification failure never replaces a good view with a worse one; it is logged (once per
 *   distinct failure), counted, and remembered so a dispatch refusal can name it.
 * - Marks advance before the artifact is used (AnchorStore); a validly signed but older artifact
 *   is refused as `Rollback`.
 * - Verified bytes are cached under the state dir (`fleet/`, `rollouts/`, the reference layout)
 *   and re-verified when loaded, never trusted as is.
 */
import { join } from 'node:path'
import * as v from 'valibot'
import { type HostPolicy, resolveHostPolicy } from '../core/index.ts'
import { rolloutIdFor } from '../core/release/projection.ts'
import { checkFreshness, type Verified } from '../crypto/verify-artifact.ts'
import {
  type AgentClient,
  type SignedBytes,
  describeClientError,
} from './cp-client.ts'
import type { Dispatch } from '../proto/agent.ts'
import { toRfc3339 } from '../proto/common.ts'
import type { FleetResolved } from '../proto/fleet.ts'
import { parseRolloutId, RolloutIdSchema } from '../proto/ids.ts'
import type { RolloutManifest } from '../proto/manifest.ts'
import { verifyFleet, verifyRolloutManifest } from '../release/verify.ts'
import type { Clock } from '../runtime/clock.ts'
import type { Logger } from '../runtime/log.ts'
import { type AnchorStore, highWaterKey } from './anchors.ts'
import { ensureDir, listDir, readFileIfExists, removeFile, writeFileDurable } from '../runtime/durable-fs.ts'
import { M, type Metrics } from './metrics.ts'
import type { TrustSource } from './trust.ts'

// Artifact fetches: the CP answers from memory; 15 s (the reference's fetch timeout) covers a
// multi-MB fleet over a slow link and a busy CP.
const ARTIFACT_TIMEOUT_MS = 15_000

/** A refusal of a dispatch or artifact, as logged, counted and reported in heartbeats. */
export type Refusal = {
  readonly kind: string
  readonly message: string
  readonly rolloutId: string | null
}

/** The newest verified release as this host sees it. */
export type ReleaseView = {
  readonly fleet: Verified<FleetResolved>
  /** The host's channel (`undefined` when the fleet does not list this host). */
  readonly channel: string | undefined
  /** The rollout of the channel in this fleet (`undefined` when no host of it has a closure). */
  readonly rolloutId: string | undefined
  readonly manifest: Verified<RolloutManifest> | undefined
  /** The manifest's effective freshness window (channel window capped by the global one). */
  readonly manifestWindowSecs: number
}

/** What a dispatch resolves to once accepted. */
export type AcceptedDispatch = {
  readonly rolloutId: string
  readonly channel: string
  readonly targetClosure: string
  readonly waveIndex: number
  readonly policy: HostPolicy
}

/** The dependencies of the cache. */
export type ManifestCacheDeps = {
  readonly client: AgentClient
  readonly trust: TrustSource
  readonly anchors: AnchorStore
  readonly stateDir: string
  readonly machineId: string
  readonly freshnessWindowSecs: number
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Metrics
  /** Called when the anti-rollback marks were re-anchored on the CP's artifacts. */
  readonly onReanchor: (at: number) => void
}

type Rejection = Refusal & { readonly artifact: 'fleet' | 'rollout-manifest' }

/** The verified release view, its disk cache and the dispatch decision. */
export class ManifestCache {
  private current: ReleaseView | undefined
  private polling: Promise<void> = Promise.resolve()
  /** The fleet bytes, signature and trust file behind `current.fleet`, to skip re-verifying them. */
  private verifiedFleet: { pair: SignedBytes; trust: unknown } | undefined
  private lastRejection: Rejection | undefined
  private readonly logged = new Set<string>()
  private readonly fleetDir: string
  private readonly rolloutsDir: string

  constructor(private readonly deps: ManifestCacheDeps) {
    this.fleetDir = join(deps.stateDir, 'fleet')
    this.rolloutsDir = join(deps.stateDir, 'rollouts')
    ensureDir(this.fleetDir)
    ensureDir(this.rolloutsDir)
  }

  /** The newest verified release view, if any. */
  view(): ReleaseView | undefined {
    return this.current
  }

  private ctx(now: number) {
    return {
      slot: this.deps.trust.get().ciReleaseKey,
      now,
      freshnessWindowSecs: this.deps.freshnessWindowSecs,
    }
  }

  private reject(r: Rejection, detail: string): void {
    this.lastRejection = r
    this.deps.metrics.inc(M.manifestRejections, 'Signed artifacts refused, by reason.', {
      artifact: r.artifact,
      kind: r.kind,
    })
    const key = `${r.artifact}|${r.kind}|${detail}`
    if (this.logged.has(key)) return
    this.logged.add(key)
    this.deps.log.warn('signed artifact refused', {
      artifact: r.artifact,
      kind: r.kind,
      reason: r.message,
      rolloutId: r.rolloutId,
    })
  }

  /** Anti-rollback admission; false (and a rejection) when `verified` is older than the mark. */
  private admit(
    artifact: 'fleet' | 'rollout-manifest',
    key: string,
    verified: Verified<unknown>,
    rolloutId: string | null
  ): boolean {
    const now = this.deps.clock.now()
    const { verdict, reanchored } = this.deps.anchors.accept(
      key,
      { signedAtMs: verified.signedAtMs, ciCommit: verified.ciCommit },
      now
    )
    if (verdict === 'rollback') {
      const mark = this.deps.anchors.get(key)
      this.reject(
        {
          artifact,
          kind: 'Rollback',
          message: `signed ${verified.signedAt}, older than the ${artifact} already accepted (signed ${mark ? toRfc3339(mark.signedAtMs) : '?'})`,
          rolloutId,
        },
        verified.sha256
      )
      return false
    }
    if (reanchored) {
      this.deps.metrics.inc(M.anchorResets, 'Anti-rollback marks re-anchored on the control plane.')
      this.deps.log.warn(
        'anti-rollback marks missing; re-anchored on the control plane artifacts',
        {
          reason: this.deps.anchors.startProblem,
          artifact,
          signedAt: verified.signedAt,
          ciCommit: verified.ciCommit,
        }
      )
      this.deps.onReanchor(now)
    }
    return true
  }

  private ownRollout(fleet: FleetResolved): { channel?: string; rolloutId?: string } {
    const host = Object.hasOwn(fleet.hosts, this.deps.machineId)
      ? fleet.hosts[this.deps.machineId as keyof typeof fleet.hosts]
      : undefined
    if (!host) return {}
    const channel = host.channel as string
    const built = Object.values(fleet.hosts).some(
      (h) => h.channel === channel && h.closureHash !== null
    )
    return built ? { channel, rolloutId: rolloutIdFor(channel, fleet.meta.ciCommit) } : { channel }
  }

  private async verifyFleetBytes(pair: SignedBytes, now: number) {
    return verifyFleet(pair.bytes, pair.signature, this.ctx(now))
  }

  /**
   * Verifies the fleet pair, unless it is byte for byte the pair last verified under the same
   * trust file: then only freshness can have changed. The agent polls every 30 s and releases
   * change rarely, so this spares a canonicalization and a signature check per poll.
   */
  private async verifyFleetIfChanged(pair: SignedBytes, now: number) {
    const last = this.verifiedFleet
    const fleet = this.current?.fleet
    const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))
    if (
      last !== undefined &&
      fleet !== undefined &&
      last.trust === this.deps.trust.get() &&
      same(last.pair.bytes, pair.bytes) &&
      same(last.pair.signature, pair.signature)
    ) {
      const stale = checkFreshness(fleet.signedAtMs, now, this.deps.freshnessWindowSecs)
      return stale ? { ok: false as const, error: stale } : { ok: true as const, verified: fleet }
    }
    return this.verifyFleetBytes(pair, now)
  }

  private async verifyManifestBytes(
    pair: SignedBytes,
    rolloutId: string,
    fleet: Verified<FleetResolved> | undefined,
    now: number
  ) {
    return verifyRolloutManifest(pair.bytes, pair.signature, {
      ...this.ctx(now),
      rolloutId,
      fleet: fleet ? { sha256: fleet.sha256, value: fleet.value } : undefined,
    })
  }

  /** Loads the cached artifacts of a previous run, re-verifying them at `now`. */
  async loadFromDisk(): Promise<void> {
    const now = this.deps.clock.now()
    const bytes = readFileIfExists(join(this.fleetDir, 'fleet.resolved.json'))
    const signature = readFileIfExists(join(this.fleetDir, 'fleet.resolved.json.sig'))
    if (!bytes || !signature) return
    const fv = await this.verifyFleetBytes({ bytes, signature }, now)
    if (!fv.ok) {
      this.deps.log.info('cached fleet.resolved not usable', {
        kind: fv.error.kind,
        reason: fv.error.message,
      })
      return
    }
    if (!this.admit('fleet', highWaterKey('fleet'), fv.verified, null)) return
    const { channel, rolloutId } = this.ownRollout(fv.verified.value)
    let manifest: Verified<RolloutManifest> | undefined
    let windowSecs = this.deps.freshnessWindowSecs
    if (channel !== undefined && rolloutId !== undefined) {
      const mb = readFileIfExists(join(this.rolloutsDir, `${rolloutId}.json`))
      const ms = readFileIfExists(join(this.rolloutsDir, `${rolloutId}.json.sig`))
      if (mb && ms) {
        const mv = await this.verifyManifestBytes(
          { bytes: mb, signature: ms },
          rolloutId,
          fv.verified,
          now
        )
        if (
          mv.ok &&
          this.admit(
            'rollout-manifest',
            highWaterKey('rollout-manifest', channel),
            mv.verified,
            rolloutId
          )
        ) {
          manifest = mv.verified
          windowSecs = mv.freshnessWindowSecs
        }
      }
    }
    this.current = {
      fleet: fv.verified,
      channel,
      rolloutId,
      manifest,
      manifestWindowSecs: windowSecs,
    }
  }

  private persistFleet(pair: SignedBytes): void {
    writeFileDurable(join(this.fleetDir, 'fleet.resolved.json'), pair.bytes, 0o644)
    writeFileDurable(join(this.fleetDir, 'fleet.resolved.json.sig'), pair.signature, 0o644)
  }

  private persistManifest(rolloutId: string, pair: SignedBytes): void {
    writeFileDurable(join(this.rolloutsDir, `${rolloutId}.json`), pair.bytes, 0o644)
    writeFileDurable(join(this.rolloutsDir, `${rolloutId}.json.sig`), pair.signature, 0o644)
    for (const name of listDir(this.rolloutsDir)) {
      if (!name.startsWith('.') && !name.startsWith(`${rolloutId}.json`)) {
        removeFile(join(this.rolloutsDir, name))
      }
    }
  }

  /**
   * Fetches and verifies the CP's current fleet and this host's rollout manifest; on success
   * the view advances. Returns a one-line error when the poll did not complete.
   */
  poll(signal?: AbortSignal): Promise<{ ok: true } | { ok: false; error: string }> {
    // Polls run one after another (the periodic poll and a dispatch's refresh may overlap), so
    // a refresh always sees what the CP serves after it was asked for.
    const run = this.polling.then(() => this.pollOnce(signal))
    this.polling = run.then(
      () => {},
      () => {}
    )
    return run
  }

  private async pollOnce(
    signal?: AbortSignal
  ): Promise<{ ok: true } | { ok: false; error: string }> {
    const ro = { timeoutMs: ARTIFACT_TIMEOUT_MS, signal }
    const fetched = await this.deps.client.fetchFleet(ro)
    if (!fetched.ok)
      return { ok: false, error: `fleet.resolved: ${describeClientError(fetched.error)}` }
    const now = this.deps.clock.now()
    const fv = await this.verifyFleetIfChanged(fetched.value, now)
    if (!fv.ok) {
      this.reject(
        { artifact: 'fleet', kind: fv.error.kind, message: fv.error.message, rolloutId: null },
        fv.error.message
      )
      return { ok: false, error: `fleet.resolved refused: ${fv.error.kind}` }
    }
    if (!this.admit('fleet', highWaterKey('fleet'), fv.verified, null)) {
      return { ok: false, error: 'fleet.resolved refused: Rollback' }
    }
    const prev = this.current
    if (prev?.fleet.sha256 !== fv.verified.sha256) this.persistFleet(fetched.value)
    // Only an admitted fleet may be matched byte for byte later (see verifyFleetIfChanged).
    this.verifiedFleet = { pair: fetched.value, trust: this.deps.trust.get() }
    const { channel, rolloutId } = this.ownRollout(fv.verified.value)
    if (channel === undefined || rolloutId === undefined) {
      if (channel === undefined && !this.logged.has('not-in-fleet')) {
        this.logged.add('not-in-fleet')
        this.deps.log.warn('this host is not in the signed fleet', {
          machineId: this.deps.machineId,
        })
      }
      this.current = {
        fleet: fv.verified,
        channel,
        rolloutId,
        manifest: undefined,
        manifestWindowSecs: this.deps.freshnessWindowSecs,
      }
      this.lastRejection = undefined
      this.markAccepted(now)
      return { ok: true }
    }
    // Same fleet bytes and the manifest already verified against them: nothing new to fetch.
    if (
      prev?.fleet.sha256 === fv.verified.sha256 &&
      prev.rolloutId === rolloutId &&
      prev.manifest
    ) {
      this.current = { ...prev, fleet: fv.verified }
      this.lastRejection = undefined
      this.markAccepted(now)
      return { ok: true }
    }
    const mf = await this.deps.client.fetchRolloutManifest(rolloutId, ro)
    if (!mf.ok) {
      this.current = {
        fleet: fv.verified,
        channel,
        rolloutId,
        manifest: undefined,
        manifestWindowSecs: this.deps.freshnessWindowSecs,
      }
      return { ok: false, error: `rollout manifest ${rolloutId}: ${describeClientError(mf.error)}` }
    }
    const mv = await this.verifyManifestBytes(
      mf.value,
      rolloutId,
      fv.verified,
      this.deps.clock.now()
    )
    if (!mv.ok) {
      this.current = {
        fleet: fv.verified,
        channel,
        rolloutId,
        manifest: undefined,
        manifestWindowSecs: this.deps.freshnessWindowSecs,
      }
      this.reject(
        { artifact: 'rollout-manifest', kind: mv.error.kind, message: mv.error.message, rolloutId },
        `${rolloutId}|${mv.error.message}`
      )
      return { ok: false, error: `rollout manifest ${rolloutId} refused: ${mv.error.kind}` }
    }
    if (
      !this.admit(
        'rollout-manifest',
        highWaterKey('rollout-manifest', channel),
        mv.verified,
        rolloutId
      )
    ) {
      this.current = {
        fleet: fv.verified,
        channel,
        rolloutId,
        manifest: undefined,
        manifestWindowSecs: this.deps.freshnessWindowSecs,
      }
      return { ok: false, error: `rollout manifest ${rolloutId} refused: Rollback` }
    }
    this.persistManifest(rolloutId, mf.value)
    this.current = {
      fleet: fv.verified,
      channel,
      rolloutId,
      manifest: mv.verified,
      manifestWindowSecs: mv.freshnessWindowSecs,
    }
    this.lastRejection = undefined
    this.markAccepted(now)
    if (prev?.rolloutId !== rolloutId) {
      this.deps.log.info('rollout manifest verified', {
        rolloutId,
        signedAt: mv.verified.signedAt,
        fleetResolvedHash: fv.verified.sha256,
      })
    }
    return { ok: true }
  }

  private markAccepted(now: number): void {
    this.deps.metrics.set(
      M.lastManifest,
      'Unix time the last signed manifest was verified.',
      Math.floor(now / 1000)
    )
  }

  /** Why a dispatch for a rollout that is not the current one is refused. */
  private async explainForeign(
    rolloutId: string,
    signal: AbortSignal | undefined
  ): Promise<Refusal> {
    const parts = parseRolloutId(rolloutId)
    const view = this.current
    if (parts && view?.channel !== undefined && parts.channel !== view.channel) {
      return {
        kind: 'WrongChannel',
        message: `dispatch is for channel ${parts.channel} but this host is on channel ${view.channel}`,
        rolloutId,
      }
    }
    const rej = this.lastRejection
    if (rej && (rej.rolloutId === rolloutId || rej.artifact === 'fleet')) {
      return { kind: rej.kind, message: `${rej.artifact}: ${rej.message}`, rolloutId }
    }
    const current = view?.rolloutId ?? 'none'
    const notCurrent: Refusal = {
      kind: 'NotCurrent',
      message: `dispatch names ${rolloutId} but the current verified release for this host is ${current}`,
      rolloutId,
    }
    const mf = await this.deps.client.fetchRolloutManifest(rolloutId, {
      timeoutMs: ARTIFACT_TIMEOUT_MS,
      signal,
    })
    if (!mf.ok) return notCurrent
    const mv = await this.verifyManifestBytes(mf.value, rolloutId, undefined, this.deps.clock.now())
    if (!mv.ok)
      return { kind: mv.error.kind, message: `rollout manifest: ${mv.error.message}`, rolloutId }
    const key = highWaterKey('rollout-manifest', mv.verified.value.channel)
    if (
      this.deps.anchors.check(key, {
        signedAtMs: mv.verified.signedAtMs,
        ciCommit: mv.verified.ciCommit,
      }) === 'rollback'
    ) {
      return {
        kind: 'Rollback',
        message: `rollout manifest signed ${mv.verified.signedAt} is older than the release already accepted (${current})`,
        rolloutId,
      }
    }
    return notCurrent
  }

  /** Decides whether `dispatch` may be acted on; refreshes the view when it is not current. */
  async acceptDispatch(
    dispatch: Dispatch,
    signal?: AbortSignal
  ): Promise<{ ok: true; value: AcceptedDispatch } | { ok: false; refusal: Refusal }> {
    const rolloutId = dispatch.rollout_id as string
    const refuse = (kind: string, message: string) => ({
      ok: false as const,
      refusal: { kind, message, rolloutId },
    })
    if (dispatch.hostname !== this.deps.machineId) {
      return refuse(
        'WrongHost',
        `dispatch is addressed to ${dispatch.hostname}, not ${this.deps.machineId}`
      )
    }
    const fresh = (view: ReleaseView | undefined): boolean =>
      view?.manifest !== undefined &&
      checkFreshness(view.manifest.signedAtMs, this.deps.clock.now(), view.manifestWindowSecs) ===
        undefined
    let view = this.current
    if (view?.rolloutId !== rolloutId || !fresh(view)) {
      await this.poll(signal)
      view = this.current
    }
    if (!view) {
      const rej = this.lastRejection
      return rej
        ? refuse(rej.kind, `${rej.artifact}: ${rej.message}`)
        : refuse('Unavailable', 'no verified fleet.resolved yet (control plane unreachable)')
    }
    if (view.rolloutId !== rolloutId || !view.manifest) {
      return { ok: false, refusal: await this.explainForeign(rolloutId, signal) }
    }
    const stale = checkFreshness(
      view.manifest.signedAtMs,
      this.deps.clock.now(),
      view.manifestWindowSecs
    )
    if (stale) return refuse(stale.kind, `rollout manifest: ${stale.message}`)
    const entry = view.manifest.value.hostSet.find((h) => h.hostname === this.deps.machineId)
    if (!entry)
      return refuse('NotInManifest', `the signed manifest of ${rolloutId} does not list this host`)
    if (entry.targetClosure !== dispatch.target_closure) {
      return refuse(
        'TargetMismatch',
        `dispatch target ${dispatch.target_closure} is not the signed target ${entry.targetClosure}`
      )
    }
    const channel = view.manifest.value.channel as string
    const policy = resolveHostPolicy(view.fleet.value, channel, entry.waveIndex)
    if (!policy)
      return refuse('NoPolicy', `channel ${channel} has no rollout policy in the signed fleet`)
    return {
      ok: true,
      value: {
        rolloutId,
        channel,
        targetClosure: entry.targetClosure,
        waveIndex: entry.waveIndex,
        policy,
      },
    }
  }

  /**
   * The signed facts for a record rebuilt from a CP snapshot: its target and policy, but only
   * when `rolloutId` is the current verified rollout of this host (never from the CP's word).
   */
  signedRecordFacts(
    rolloutId: string
  ): { targetClosure: string; channel: string; waveIndex: number; policy: HostPolicy } | undefined {
    const view = this.current
    if (!v.is(RolloutIdSchema, rolloutId) || view?.rolloutId !== rolloutId || !view.manifest)
      return undefined
    const entry = view.manifest.value.hostSet.find((h) => h.hostname === this.deps.machineId)
    if (!entry) return undefined
    const channel = view.manifest.value.channel as string
    const policy = resolveHostPolicy(view.fleet.value, channel, entry.waveIndex)
    return policy
      ? { targetClosure: entry.targetClosure, channel, waveIndex: entry.waveIndex, policy }
      : undefined
  }
}
