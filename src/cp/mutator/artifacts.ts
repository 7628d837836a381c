/**
 * `ReleaseVerified` and `ListVerified`: adopting signed artifacts the poller verified. Core's
 * `adoptionVerdict` decides each one against its high-water mark; this records the outcome
 * (status, metric, log, `verify_outcome` row), persists what is adopted (mark, bytes) and swaps
 * it into memory. A newly adopted release is planned at once.
 * Invariants: a refusal never discards what was adopted (a manifest refused as Stale stays the
 * channel's while its rollout is the same); refusals are logged and written only when they
 * differ from the key's last one (a source failing every poll writes one row); the release is
 * adopted only when the fleet is, with exactly the manifests that passed (or are kept as
 * above); a mark moves only forward.
 */
import { adoptionVerdict, revocationAdoptedAt } from '../../core/index.ts'
import { highWaterKey } from '../../core/release/anti-rollback.ts'
import type { BootstrapNonces } from '../../proto/bootstrap.ts'
import { parseRfc3339Ms } from '../../proto/common.ts'
import type { Revocations } from '../../proto/revocations.ts'
import { denialKey, type AdoptedArtifact, type AdoptedManifest } from '../state.ts'
import type { MutatorContext } from './context.ts'
import type { ArtifactOutcome, InputOf } from './inputs.ts'
import { runPlan } from './plan.ts'
import { labelWord } from '../../runtime/prometheus.ts'

/** Which artifact an outcome is about, for logs and `verify_outcome` rows. */
type Origin = { readonly artifact: string; readonly source: string; readonly channel?: string }

function setMark(ctx: MutatorContext, key: string, a: AdoptedArtifact<unknown>): void {
  ctx.state.marks.set(key, { signedAtMs: a.signedAtMs, ciCommit: a.ciCommit, sha256: a.sha256 })
  ctx.store.release.setMark(
    { key, signedAtMs: a.signedAtMs, ciCommit: a.ciCommit, sha256: a.sha256 },
    ctx.now
  )
}

function storeArtifact(ctx: MutatorContext, key: string, a: AdoptedArtifact<unknown>): void {
  ctx.store.release.setArtifact({
    key,
    artifact: a.bytes,
    signature: a.signature,
    sha256: a.sha256,
    adoptedAt: ctx.now,
  })
}

/** The `verify_outcome` row of an artifact, with the outcome's own fields. */
function appendOutcome(ctx: MutatorContext, o: Origin, fields: Record<string, unknown>): void {
  const { artifact, source, channel } = o
  ctx.applier.append('verify_outcome', ctx.now, {
    artifact,
    ...(channel !== undefined ? { channel } : {}),
    source,
    ...fields,
  })
}

/** Records a refused artifact: log, metric, status, and a (debounced) `verify_outcome` row. */
function refuse(ctx: MutatorContext, key: string, o: Origin, kind: string, message: string): void {
  const { state, now } = ctx
  ctx.metrics.verifyFailures.inc({ artifact: o.artifact, kind: labelWord(kind) })
  const prev = state.status.get(key)
  state.status.set(key, {
    key,
    adopted: prev?.adopted ?? null,
    lastCheckedAt: now,
    lastError: { kind, message, at: now },
  })
  if (prev?.lastError?.kind === kind && prev.lastError.message === message) return
  ctx.log.warn('signed artifact refused', {
    artifact: o.artifact,
    channel: o.channel,
    source: o.source,
    kind,
    message,
  })
  appendOutcome(ctx, o, { ok: false, kind, message })
}

/** Records an accepted artifact; a `verify_outcome` row only when it changed what is adopted. */
function accepted(
  ctx: MutatorContext,
  key: string,
  a: AdoptedArtifact<unknown>,
  changed: boolean,
  o: Origin
): void {
  const { state, now } = ctx
  state.status.set(key, {
    key,
    adopted: {
      sha256: a.sha256,
      signedAt: a.signedAt,
      at: changed ? now : (state.status.get(key)?.adopted?.at ?? now),
    },
    lastCheckedAt: now,
    lastError: null,
  })
  if (changed)
    appendOutcome(ctx, o, {
      ok: true,
      sha256: a.sha256,
      signedAt: a.signedAt,
      ciCommit: a.ciCommit,
    })
}

/**
 * A verified artifact core's adoption verdict accepts, with whether it moves the mark; or
 * undefined once the refusal (failed verification, or a rollback) is recorded.
 */
function admissible<T>(
  ctx: MutatorContext,
  key: string,
  o: Origin,
  outcome: ArtifactOutcome<T>
): { readonly artifact: AdoptedArtifact<T>; readonly advance: boolean } | undefined {
  if (!outcome.ok) {
    refuse(ctx, key, o, outcome.kind, outcome.message)
    return undefined
  }
  const verdict = adoptionVerdict(outcome.artifact, ctx.state.marks.get(key))
  if (!verdict.ok) {
    refuse(ctx, key, o, verdict.kind, verdict.message)
    return undefined
  }
  return { artifact: outcome.artifact, advance: verdict.advance }
}

/** Adopts a verified release (fleet + manifests), or records why not. */
export function releaseVerified(ctx: MutatorContext, input: InputOf<'ReleaseVerified'>): void {
  const { state, now } = ctx
  const { outcome } = input
  const fleetKey = highWaterKey('fleet')
  const fleetOrigin: Origin = { artifact: 'fleet', source: outcome.source }
  const fleetOk = admissible(ctx, fleetKey, fleetOrigin, outcome.fleet)
  if (fleetOk === undefined) return
  const fleet = fleetOk.artifact
  const current = state.release
  const manifests: Record<string, AdoptedManifest> = {}
  const expired = new Set<string>()
  for (const [channel, m] of Object.entries(outcome.manifests)) {
    const origin: Origin = { artifact: 'rollout-manifest', source: outcome.source, channel }
    const ok = admissible(ctx, highWaterKey('rollout-manifest', channel), origin, m)
    if (ok !== undefined) manifests[channel] = { ...ok.artifact, rolloutId: m.rolloutId }
    // An adopted manifest past its window stays adopted for the rollout it drives: the planner's
    // freshness gate holds the channel, saying CI must re-sign, instead of the rollout silently
    // dropping out of planning until a re-sign arrives.
    const kept = current?.manifests[channel]
    if (ok === undefined && !m.ok && m.kind === 'Stale' && kept?.rolloutId === m.rolloutId) {
      manifests[channel] = kept
      expired.add(channel)
    }
  }
  const fleetChanged = current === undefined || current.fleet.sha256 !== fleet.sha256
  accepted(ctx, fleetKey, fleet, fleetChanged, fleetOrigin)
  let changed = fleetChanged
  for (const [channel, m] of Object.entries(manifests)) {
    if (expired.has(channel)) continue
    const mChanged = current?.manifests[channel]?.sha256 !== m.sha256
    accepted(ctx, highWaterKey('rollout-manifest', channel), m, mChanged, {
      artifact: 'rollout-manifest',
      source: outcome.source,
      channel,
    })
    if (mChanged) changed = true
  }
  if (
    current !== undefined &&
    Object.keys(current.manifests).some((c) => manifests[c] === undefined)
  )
    changed = true
  if (!changed) return
  if (fleetOk.advance) setMark(ctx, fleetKey, fleet)
  storeArtifact(ctx, fleetKey, fleet)
  for (const [channel, m] of Object.entries(manifests)) {
    const key = highWaterKey('rollout-manifest', channel)
    if (state.marks.get(key)?.sha256 !== m.sha256) setMark(ctx, key, m)
    storeArtifact(ctx, key, m)
  }
  state.release = { fleet, manifests, adoptedAt: now }
  ctx.applier.append('manifest_poll', now, {
    source: outcome.source,
    fleetSha256: fleet.sha256,
    signedAt: fleet.signedAt,
    ciCommit: fleet.ciCommit,
    rollouts: Object.values(manifests)
      .map((m) => m.rolloutId)
      .sort(),
  })
  ctx.log.info('release adopted', {
    source: outcome.source,
    ciCommit: fleet.ciCommit,
    signedAt: fleet.signedAt,
    rollouts: Object.values(manifests).map((m) => m.rolloutId),
  })
  runPlan(ctx)
}

/** Adopts a verified revocations or bootstrap-nonces list, or records why not. */
export function listVerified(ctx: MutatorContext, input: InputOf<'ListVerified'>): void {
  const { state, store, now } = ctx
  const { kind, source, outcome } = input
  const key = highWaterKey(kind)
  const origin: Origin = { artifact: kind, source }
  const ok = admissible(ctx, key, origin, outcome)
  if (ok === undefined) return
  const a = ok.artifact
  const adopted = kind === 'revocations' ? state.revocationsAdopted : state.noncesAdopted
  const changed = adopted?.sha256 !== a.sha256
  accepted(ctx, key, a, changed, origin)
  if (!changed) return
  if (ok.advance) setMark(ctx, key, a)
  storeArtifact(ctx, key, a)
  if (kind === 'revocations') {
    state.revocationsAdopted = a
    for (const r of (a.value as Revocations).revocations) {
      const hostname = r.hostname as string
      const notBefore = parseRfc3339Ms(r.notBefore)
      const entry = {
        hostname,
        notBefore,
        reason: r.reason,
        revokedBy: r.revokedBy,
        // The adoption time revokes too; it stays that of the first adoption (core).
        revokedAt: revocationAdoptedAt(state.revocations.get(hostname), notBefore, now),
      }
      store.security.upsertRevocation(entry)
      state.revocations.set(entry.hostname, entry)
      // The signed list now speaks for this host: an operator's emergency denial gives way to it.
      if (state.denial('host', hostname) !== undefined) {
        store.operator.deleteDenial('host', hostname)
        state.denials.delete(denialKey('host', hostname))
        ctx.applier.append('effect', now, { effect: 'DenialSuperseded', host: hostname }, hostname)
        ctx.log.info('host denial superseded by the signed revocation list', { host: hostname })
      }
    }
  } else {
    state.noncesAdopted = a
    state.nonces = new Map((a.value as BootstrapNonces).bootstrapNonces.map((n) => [n.nonce, n]))
  }
}
