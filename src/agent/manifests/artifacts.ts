/**
 * Fetching and verifying the CP's signed artifacts for this host (protocol §3.2, §8.2;
 * DECISIONS §3.1–3.2): fleet.resolved and rollout manifests, from the CP or the disk cache,
 * checked for signature, schema, freshness, anchor and discriminator (`src/release/verify.ts`)
 * and admitted past the anti-rollback marks (`AnchorStore`).
 *
 * Invariants:
 * - Nothing fetched is used unverified; cached bytes are re-verified when loaded.
 * - Marks advance before the artifact is used; a validly signed but older artifact is refused
 *   as `Rollback`.
 * - A refusal is counted every time, logged once per distinct failure, and remembered (the
 *   latest one) so a dispatch refusal can name it.
 * - Verified bytes are cached under the state dir (`fleet/`, `rollouts/`, the reference layout);
 *   only the manifest of the current rollout is kept.
 */
import { toRfc3339 } from '../../proto/common.ts'
import { join } from 'node:path'
import { checkFreshness, type Verified } from '../../crypto/verify-artifact.ts'
import type { FleetResolved } from '../../proto/fleet.ts'
import type { RolloutManifest } from '../../proto/manifest.ts'
import { verifyFleet, verifyRolloutManifest } from '../../release/verify.ts'
import type { Clock } from '../../runtime/clock.ts'
import {
  ensureDir,
  listDir,
  readFileIfExists,
  removeFile,
  writeFileDurable,
} from '../../runtime/durable-fs.ts'
import type { Logger } from '../../runtime/log.ts'
import { type AnchorStore, highWaterKey } from '../anchors.ts'
import { type AgentClient, type ClientResult, type SignedBytes } from '../cp-client.ts'
import { M, type Metrics } from '../metrics.ts'
import type { TrustSource } from '../trust.ts'
import type { ViewManifest } from './view.ts'
import { labelWord } from '../../runtime/prometheus.ts'

// Artifact fetches: the CP answers from memory; 15 s (the reference's fetch timeout) covers a
// multi-MB fleet over a slow link and a busy CP.
const ARTIFACT_TIMEOUT_MS = 15_000

/** A refusal of a dispatch or artifact, as logged, counted and reported in heartbeats. */
export type Refusal = {
  readonly kind: string
  readonly message: string
  readonly rolloutId: string | null
}

/** A refused artifact. */
export type Rejection = Refusal & { readonly artifact: 'fleet' | 'rollout-manifest' }

/** A verification failure. */
type Failure = {
  readonly ok: false
  readonly error: { readonly kind: string; readonly message: string }
}

/** The dependencies of the artifact store. */
export type SignedArtifactsDeps = {
  readonly client: AgentClient
  readonly trust: TrustSource
  readonly anchors: AnchorStore
  readonly stateDir: string
  readonly freshnessWindowSecs: number
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Metrics
  /** Called when the anti-rollback marks were re-anchored on the CP's artifacts. */
  readonly onReanchor: (at: number) => void
  /**
   * This start enrolled the host: it has never accepted an artifact, so anchoring its marks is
   * expected (info), not a lost state directory (warning).
   */
  readonly firstBoot?: boolean
}

/** The fleet and manifest files of the state dir, and how to verify and admit artifacts. */
export class SignedArtifacts {
  /** The fleet bytes, signature and trust file last admitted, to skip re-verifying them. */
  private verifiedFleet:
    { pair: SignedBytes; trust: unknown; verified: Verified<FleetResolved> } | undefined
  private rejection: Rejection | undefined
  private readonly logged = new Set<string>()
  private readonly fleetDir: string
  private readonly rolloutsDir: string

  constructor(private readonly deps: SignedArtifactsDeps) {
    this.fleetDir = join(deps.stateDir, 'fleet')
    this.rolloutsDir = join(deps.stateDir, 'rollouts')
    ensureDir(this.fleetDir)
    ensureDir(this.rolloutsDir)
  }

  /** The latest refusal since the last complete poll. */
  get lastRejection(): Rejection | undefined {
    return this.rejection
  }

  /** Forgets the latest refusal (a poll completed). */
  clearRejection(): void {
    this.rejection = undefined
  }

  /** True the first time `key` is seen (log-once helper). */
  firstTime(key: string): boolean {
    if (this.logged.has(key)) return false
    this.logged.add(key)
    return true
  }

  private ctx(now: number) {
    return {
      slot: this.deps.trust.get().ciReleaseKey,
      now,
      freshnessWindowSecs: this.deps.freshnessWindowSecs,
    }
  }

  /** Records a refused artifact; `detail` distinguishes failures worth a log line each. */
  reject(r: Rejection, detail: string): void {
    this.rejection = r
    this.deps.metrics.inc(M.manifestRejections, 'Signed artifacts refused, by reason.', {
      artifact: r.artifact,
      kind: labelWord(r.kind),
    })
    if (!this.firstTime(`${r.artifact}|${r.kind}|${detail}`)) return
    this.deps.log.warn('signed artifact refused', {
      artifact: r.artifact,
      kind: r.kind,
      reason: r.message,
      rolloutId: r.rolloutId,
    })
  }

  /** Anti-rollback admission; false (and a rejection) when `verified` is older than the mark. */
  admit(
    artifact: Rejection['artifact'],
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
      const fields = {
        reason: this.deps.anchors.startProblem,
        artifact,
        signedAt: verified.signedAt,
        ciCommit: verified.ciCommit,
      }
      if (this.deps.firstBoot === true && this.deps.anchors.startProblem === 'missing')
        this.deps.log.info(
          'first start: anti-rollback marks anchored on the control plane artifacts',
          fields
        )
      else
        this.deps.log.warn(
          'anti-rollback marks missing; re-anchored on the control plane artifacts',
          fields
        )
      this.deps.onReanchor(now)
    }
    return true
  }

  /** Whether a manifest signed as `verified` is older than the mark of its channel. */
  isRollback(verified: Verified<RolloutManifest>): boolean {
    const key = highWaterKey('rollout-manifest', verified.value.channel)
    const mark = { signedAtMs: verified.signedAtMs, ciCommit: verified.ciCommit }
    return this.deps.anchors.check(key, mark) === 'rollback'
  }

  // ------------------------------------------------------------------ fetch

  /** The CP's fleet pair. */
  fetchFleet(signal: AbortSignal | undefined): Promise<ClientResult<SignedBytes>> {
    return this.deps.client.fetchFleet({ timeoutMs: ARTIFACT_TIMEOUT_MS, signal })
  }

  /** The CP's manifest pair of `rolloutId`. */
  fetchManifest(
    rolloutId: string,
    signal: AbortSignal | undefined
  ): Promise<ClientResult<SignedBytes>> {
    return this.deps.client.fetchRolloutManifest(rolloutId, {
      timeoutMs: ARTIFACT_TIMEOUT_MS,
      signal,
    })
  }

  // ------------------------------------------------------------------ verify

  /**
   * Verifies a fleet pair, unless it is byte for byte the pair last admitted under the same
   * trust file: then only freshness can have changed. The agent polls every 30 s and releases
   * change rarely, so this spares a canonicalization and a signature check per poll.
   */
  async verifyFleet(
    pair: SignedBytes,
    now: number
  ): Promise<{ ok: true; verified: Verified<FleetResolved> } | Failure> {
    const last = this.verifiedFleet
    const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))
    if (
      last !== undefined &&
      last.trust === this.deps.trust.get() &&
      same(last.pair.bytes, pair.bytes) &&
      same(last.pair.signature, pair.signature)
    ) {
      const stale = checkFreshness(last.verified.signedAtMs, now, this.deps.freshnessWindowSecs)
      return stale ? { ok: false, error: stale } : { ok: true, verified: last.verified }
    }
    return verifyFleet(pair.bytes, pair.signature, this.ctx(now))
  }

  /** Remembers an admitted fleet pair (only an admitted one may be matched byte for byte). */
  fleetAdmitted(pair: SignedBytes, verified: Verified<FleetResolved>): void {
    this.verifiedFleet = { pair, trust: this.deps.trust.get(), verified }
  }

  /** Verifies a manifest pair (anchored to `fleet` when given). */
  async verifyManifest(
    pair: SignedBytes,
    rolloutId: string,
    fleet: Verified<FleetResolved> | undefined,
    now: number
  ): Promise<{ ok: true; manifest: ViewManifest } | Failure> {
    const r = await verifyRolloutManifest(pair.bytes, pair.signature, {
      ...this.ctx(now),
      rolloutId,
      fleet: fleet ? { sha256: fleet.sha256, value: fleet.value } : undefined,
    })
    return r.ok
      ? { ok: true, manifest: { verified: r.verified, windowSecs: r.freshnessWindowSecs } }
      : r
  }

  // ------------------------------------------------------------------ disk cache

  /** The cached fleet pair, if both files exist. */
  cachedFleet(): SignedBytes | undefined {
    return this.readPair(join(this.fleetDir, 'fleet.resolved.json'))
  }

  /** The cached manifest pair of `rolloutId`, if both files exist. */
  cachedManifest(rolloutId: string): SignedBytes | undefined {
    return this.readPair(join(this.rolloutsDir, `${rolloutId}.json`))
  }

  /** Caches a fleet pair. */
  saveFleet(pair: SignedBytes): void {
    this.writePair(join(this.fleetDir, 'fleet.resolved.json'), pair)
  }

  /** Caches the manifest pair of `rolloutId` and drops any other cached manifest. */
  saveManifest(rolloutId: string, pair: SignedBytes): void {
    this.writePair(join(this.rolloutsDir, `${rolloutId}.json`), pair)
    for (const name of listDir(this.rolloutsDir)) {
      if (!name.startsWith('.') && !name.startsWith(`${rolloutId}.json`)) {
        removeFile(join(this.rolloutsDir, name))
      }
    }
  }

  private readPair(path: string): SignedBytes | undefined {
    const bytes = readFileIfExists(path)
    const signature = readFileIfExists(`${path}.sig`)
    return bytes && signature ? { bytes, signature } : undefined
  }

  private writePair(path: string, pair: SignedBytes): void {
    writeFileDurable(path, pair.bytes, 0o644)
    writeFileDurable(`${path}.sig`, pair.signature, 0o644)
  }
}
