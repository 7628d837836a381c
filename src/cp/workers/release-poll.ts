/**
 * The release poller (spec protocol.md §8.1): fetches the signed fleet.resolved and, for every
 * channel it implies, the signed rollout manifest; fetches revocations and bootstrap nonces;
 * verifies everything against trust.json (re-read on every poll, so key rotation needs no
 * restart) and hands the outcomes to the mutator, which alone decides adoption (anti-rollback)
 * and writes. Also serves on-demand fetches of manifests outside the adopted release.
 * Invariants: a verification failure never discards what the CP already adopted; one poll of a
 * kind runs at a time (a refresh during a poll joins it); nothing here writes the database.
 */
import * as v from 'valibot'
import { checkFreshness, type Verified } from '../../crypto/verify-artifact.ts'
import { channelFreshnessWindowSecs } from '../../core/release/freshness.ts'
import type { RolloutManifest } from '../../proto/manifest.ts'
import { rolloutIdFor } from '../../core/release/projection.ts'
import { parseRolloutId } from '../../proto/ids.ts'
import type { TrustFile } from '../../proto/trust.ts'
import { readTrustFile as readTrust } from '../../runtime/json-file.ts'
import type { FleetResolved } from '../../proto/fleet.ts'
import {
  verifyBootstrapNonces,
  verifyFleet,
  verifyRevocations,
  verifyRolloutManifest,
} from '../../release/verify.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import type { MutatorPort } from '../replica/mutator-port.ts'
import type { ArtifactOutcome, InputOf, ReleaseOutcome } from '../mutator/inputs.ts'
import type { FetchedPair, ReleaseSource } from '../sources/index.ts'
import type { AdoptedArtifact } from '../state.ts'

/** The trust file, or why it could not be used. */
export async function readTrustFile(
  path: string
): Promise<{ ok: true; trust: TrustFile } | { ok: false; message: string }> {
  const r = readTrust(path)
  return r.ok ? { ok: true, trust: r.value } : r
}

function adopted<T>(pair: FetchedPair, verified: Verified<T>): AdoptedArtifact<T> {
  return {
    bytes: pair.bytes,
    signature: pair.signature,
    sha256: verified.sha256,
    signedAt: verified.signedAt,
    signedAtMs: verified.signedAtMs,
    ciCommit: verified.ciCommit,
    value: verified.value,
  }
}

/** The verification context of one poll. */
export type PollContext = {
  readonly trust: TrustFile
  readonly now: number
  readonly freshnessWindowSecs: number
}

/** Verifies a fleet pair. */
export async function verifyFleetPair(
  pair: FetchedPair,
  ctx: PollContext
): Promise<ArtifactOutcome<FleetResolved>> {
  const r = await verifyFleet(pair.bytes, pair.signature, {
    slot: ctx.trust.ciReleaseKey,
    now: ctx.now,
    freshnessWindowSecs: ctx.freshnessWindowSecs,
  })
  return r.ok ? { ok: true, artifact: adopted(pair, r.verified) } : { ok: false, ...r.error }
}

/** The rollout ids a verified fleet implies: one per channel with a host that has a closure. */
export function impliedRollouts(fleet: FleetResolved): Map<string, string> {
  const out = new Map<string, string>()
  for (const host of Object.values(fleet.hosts)) {
    if (host.closureHash !== null && !out.has(host.channel)) {
      out.set(host.channel, rolloutIdFor(host.channel, fleet.meta.ciCommit))
    }
  }
  return out
}

/** Verifies every manifest a verified fleet implies. */
export async function verifyManifests(
  fleet: AdoptedArtifact<FleetResolved>,
  fetch: (
    rolloutId: string
  ) => Promise<{ ok: true; pair: FetchedPair } | { ok: false; kind: string; message: string }>,
  ctx: PollContext,
  memo: <T>(
    rolloutId: string,
    pair: FetchedPair,
    verify: () => Promise<ArtifactOutcome<T>>
  ) => Promise<ArtifactOutcome<T>> = (_id, _pair, verify) => verify()
): Promise<ReleaseOutcome['manifests']> {
  const out: Record<string, ReleaseOutcome['manifests'][string]> = {}
  await Promise.all(
    [...impliedRollouts(fleet.value)].map(async ([channel, rolloutId]) => {
      if (parseRolloutId(rolloutId) === undefined) {
        out[channel] = {
          rolloutId,
          ok: false,
          kind: 'Parse',
          message: 'the fleet meta.ciCommit is not a lowercase hex commit',
        }
        return
      }
      const fetched = await fetch(rolloutId)
      if (!fetched.ok) {
        out[channel] = { rolloutId, ok: false, kind: fetched.kind, message: fetched.message }
        return
      }
      const pair = fetched.pair
      const r = await memo<RolloutManifest>(rolloutId, pair, async () => {
        const v = await verifyRolloutManifest(pair.bytes, pair.signature, {
          slot: ctx.trust.ciReleaseKey,
          now: ctx.now,
          freshnessWindowSecs: ctx.freshnessWindowSecs,
          rolloutId,
          fleet: { sha256: fleet.sha256, value: fleet.value },
        })
        return v.ok
          ? { ok: true, artifact: adopted(pair, v.verified) }
          : { ok: false, kind: v.error.kind, message: v.error.message }
      })
      out[channel] = { rolloutId, ...r }
    })
  )
  return out
}

/** Verifies a revocations or bootstrap-nonces pair. */
export async function verifyListPair(
  kind: 'revocations' | 'bootstrap-nonces',
  pair: FetchedPair,
  ctx: PollContext
): Promise<ArtifactOutcome<unknown>> {
  const vctx = {
    slot: ctx.trust.ciReleaseKey,
    now: ctx.now,
    freshnessWindowSecs: ctx.freshnessWindowSecs,
  }
  const r =
    kind === 'revocations'
      ? await verifyRevocations(pair.bytes, pair.signature, vctx)
      : await verifyBootstrapNonces(pair.bytes, pair.signature, vctx)
  return r.ok
    ? { ok: true, artifact: adopted(pair, r.verified as Verified<unknown>) }
    : { ok: false, ...r.error }
}

/** What the poller needs. */
export type PollerDeps = {
  readonly source: ReleaseSource
  readonly trustFile: string
  readonly clock: Clock
  readonly freshnessWindowSecs: number
  readonly mutator: MutatorPort
  readonly log: Logger
  readonly releaseIntervalMs: number
  readonly listIntervalMs: number
}

/**
 * Verification results of unchanged bytes, so a poll that finds the same artifact (the common
 * case, every 30 s) costs a byte comparison instead of a full verification: canonicalizing and
 * schema-checking a 10,000-host fleet blocks the event loop for a few hundred milliseconds.
 * Keyed by artifact; valid only for the same bytes, signature and trust file. Freshness is
 * time-dependent, so it is checked again on every poll.
 */
type CachedVerdict = {
  readonly bytes: Uint8Array
  readonly signature: Uint8Array
  readonly trust: string
  readonly outcome: ArtifactOutcome<unknown>
  readonly windowSecs: number
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)

/** The release poller. */
export class ReleasePoller {
  private readonly verdicts = new Map<string, CachedVerdict>()
  private releaseRun: Promise<void> | undefined
  private listRun: Promise<void> | undefined
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private stopped = false

  constructor(private readonly deps: PollerDeps) {}

  private async context(): Promise<
    { ok: true; ctx: PollContext } | { ok: false; message: string }
  > {
    const t = await readTrustFile(this.deps.trustFile)
    if (!t.ok) return t
    return {
      ok: true,
      ctx: {
        trust: t.trust,
        now: this.deps.clock.now(),
        freshnessWindowSecs: this.deps.freshnessWindowSecs,
      },
    }
  }

  /** `verify(pair)`, or its cached outcome when the bytes, signature and trust are unchanged. */
  private async cached<T>(
    key: string,
    pair: FetchedPair,
    ctx: PollContext,
    windowSecs: number,
    verify: () => Promise<ArtifactOutcome<T>>
  ): Promise<ArtifactOutcome<T>> {
    const trust = JSON.stringify(ctx.trust.ciReleaseKey)
    const hit = this.verdicts.get(key)
    if (
      hit !== undefined &&
      hit.trust === trust &&
      hit.windowSecs === windowSecs &&
      sameBytes(hit.bytes, pair.bytes) &&
      sameBytes(hit.signature, pair.signature)
    ) {
      if (!hit.outcome.ok) return hit.outcome as ArtifactOutcome<T>
      const stale = checkFreshness(hit.outcome.artifact.signedAtMs, ctx.now, windowSecs)
      return stale === undefined ? (hit.outcome as ArtifactOutcome<T>) : { ok: false, ...stale }
    }
    const outcome = await verify()
    // Only time-independent verdicts are cached: a Stale/FutureDated one may change next poll.
    if (outcome.ok || (outcome.kind !== 'Stale' && outcome.kind !== 'FutureDated')) {
      this.verdicts.set(key, {
        bytes: pair.bytes,
        signature: pair.signature,
        trust,
        outcome,
        windowSecs,
      })
    }
    return outcome
  }

  /** Polls the fleet and its manifests once (joins a poll already running). */
  pollRelease(): Promise<void> {
    this.releaseRun ??= this.doPollRelease().finally(() => {
      this.releaseRun = undefined
    })
    return this.releaseRun
  }

  /** Polls revocations and bootstrap nonces once (joins a poll already running). */
  pollLists(): Promise<void> {
    this.listRun ??= this.doPollLists().finally(() => {
      this.listRun = undefined
    })
    return this.listRun
  }

  /** Polls everything now (operator or webhook refresh). */
  async refresh(): Promise<void> {
    await Promise.all([this.pollRelease(), this.pollLists()])
  }

  private async submit(input: InputOf<'ReleaseVerified'> | InputOf<'ListVerified'>): Promise<void> {
    const done = this.deps.mutator.request(input)
    if (done === undefined) {
      this.deps.log.warn('reducer queue full; poll outcome dropped, the next poll retries')
      return
    }
    await done
  }

  private async doPollRelease(): Promise<void> {
    const source = this.deps.source.describe()
    const c = await this.context()
    if (!c.ok) {
      await this.submit({
        type: 'ReleaseVerified',
        outcome: {
          source,
          fleet: { ok: false, kind: 'TrustFile', message: c.message },
          manifests: {},
        },
      })
      return
    }
    const fetched = await this.deps.source.fleet()
    const ctx = c.ctx
    const fleet: ArtifactOutcome<FleetResolved> = fetched.ok
      ? await this.cached('fleet', fetched.pair, ctx, ctx.freshnessWindowSecs, () =>
          verifyFleetPair(fetched.pair, ctx)
        )
      : { ok: false, kind: fetched.kind, message: fetched.message }
    const manifests = fleet.ok
      ? await verifyManifests(
          fleet.artifact,
          (id) => this.deps.source.manifest(id),
          ctx,
          (id, pair, verify) => {
            const channel = id.slice(0, id.indexOf('@'))
            const window = channelFreshnessWindowSecs(
              fleet.artifact.value.channels[channel as never],
              ctx.freshnessWindowSecs
            )
            // The anchor binds a manifest to its fleet: a cached verdict is per fleet digest.
            return this.cached(`manifest:${id}:${fleet.artifact.sha256}`, pair, ctx, window, verify)
          }
        )
      : {}
    await this.submit({ type: 'ReleaseVerified', outcome: { source, fleet, manifests } })
  }

  private async doPollLists(): Promise<void> {
    const source = this.deps.source.describe()
    for (const kind of ['revocations', 'bootstrap-nonces'] as const) {
      const pending =
        kind === 'revocations' ? this.deps.source.revocations() : this.deps.source.bootstrapNonces()
      if (pending === undefined) continue
      const c = await this.context()
      const fetched = await pending
      const outcome: ArtifactOutcome<unknown> = !c.ok
        ? { ok: false, kind: 'TrustFile', message: c.message }
        : fetched.ok
          ? await this.cached(kind, fetched.pair, c.ctx, c.ctx.freshnessWindowSecs, () =>
              verifyListPair(kind, fetched.pair, c.ctx)
            )
          : { ok: false, kind: fetched.kind, message: fetched.message }
      await this.submit({ type: 'ListVerified', kind, source, outcome: outcome as never })
    }
  }

  /** A manifest outside the adopted release, verified before it is served. */
  async manifestOnDemand(
    rolloutId: string
  ): Promise<{ ok: true; pair: FetchedPair } | { ok: false; status: 404 | 502; message: string }> {
    const fetched = await this.deps.source.manifest(rolloutId)
    if (!fetched.ok) {
      return {
        ok: false,
        status:
          fetched.message.includes('not found') || fetched.message.includes('no such file')
            ? 404
            : 502,
        message: fetched.message,
      }
    }
    const c = await this.context()
    if (!c.ok) return { ok: false, status: 502, message: c.message }
    const r = await verifyRolloutManifest(fetched.pair.bytes, fetched.pair.signature, {
      slot: c.ctx.trust.ciReleaseKey,
      now: c.ctx.now,
      freshnessWindowSecs: c.ctx.freshnessWindowSecs,
      rolloutId,
    })
    if (!r.ok)
      return {
        ok: false,
        status: 404,
        message: `rollout manifest ${rolloutId} does not verify (${r.error.kind})`,
      }
    return { ok: true, pair: fetched.pair }
  }

  /** Polls once now (bounded by `timeoutMs`), then on the configured cadences. */
  async start(primeTimeoutMs: number): Promise<void> {
    const prime = this.refresh().catch((e: unknown) =>
      this.deps.log.error('initial poll failed', { error: String(e) })
    )
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([prime, new Promise((r) => (timer = setTimeout(r, primeTimeoutMs)))])
    clearTimeout(timer)
    this.schedule(() => this.pollRelease(), this.deps.releaseIntervalMs)
    this.schedule(() => this.pollLists(), this.deps.listIntervalMs)
  }

  private schedule(run: () => Promise<void>, everyMs: number): void {
    const tick = (): void => {
      if (this.stopped) return
      run()
        .catch((e: unknown) => this.deps.log.error('poll failed', { error: String(e) }))
        .finally(() => arm())
    }
    const arm = (): void => {
      if (this.stopped) return
      const t = setTimeout(() => {
        this.timers.delete(t)
        tick()
      }, everyMs)
      this.timers.add(t)
    }
    arm()
  }

  /** Stops polling and waits for a poll in flight. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    await Promise.allSettled([this.releaseRun, this.listRun])
  }
}
