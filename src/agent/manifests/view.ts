/**
 * The verified release view of this host, and what it says about the host: which rollout of
 * which channel is the host's own, and the host's signed entry in that rollout's manifest.
 * Pure (no I/O, no clock): the cache builds views with `releaseView` only, so every view has the
 * same shape whatever stage of a poll produced it.
 */
import { type HostPolicy, resolveHostPolicy } from '../../core/index.ts'
import { rolloutIdFor } from '../../core/release/projection.ts'
import type { Verified } from '../../crypto/verify-artifact.ts'
import type { FleetResolved } from '../../proto/fleet.ts'
import type { RolloutManifest } from '../../proto/manifest.ts'

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

/** The host's channel and the rollout of that channel in a fleet. */
export type OwnRollout = {
  readonly channel: string | undefined
  readonly rolloutId: string | undefined
}

/** A verified manifest and its effective freshness window. */
export type ViewManifest = {
  readonly verified: Verified<RolloutManifest>
  readonly windowSecs: number
}

/** The host's channel in `fleet`, and its rollout when some host of the channel has a closure. */
export function ownRollout(fleet: FleetResolved, machineId: string): OwnRollout {
  const host = Object.hasOwn(fleet.hosts, machineId)
    ? fleet.hosts[machineId as keyof typeof fleet.hosts]
    : undefined
  if (!host) return { channel: undefined, rolloutId: undefined }
  const channel = host.channel as string
  const built = Object.values(fleet.hosts).some(
    (h) => h.channel === channel && h.closureHash !== null
  )
  return { channel, rolloutId: built ? rolloutIdFor(channel, fleet.meta.ciCommit) : undefined }
}

/** The view of a verified fleet, with the host's manifest when one was verified. */
export function releaseView(
  fleet: Verified<FleetResolved>,
  own: OwnRollout,
  manifest: ViewManifest | undefined,
  globalWindowSecs: number
): ReleaseView {
  return {
    fleet,
    channel: own.channel,
    rolloutId: own.rolloutId,
    manifest: manifest?.verified,
    manifestWindowSecs: manifest?.windowSecs ?? globalWindowSecs,
  }
}

/** The host's signed entry in the view's manifest, and the policy the signed fleet gives it. */
export type SignedHostEntry = {
  readonly channel: string
  readonly targetClosure: string
  readonly waveIndex: number
  /** `undefined` when the channel has no rollout policy in the signed fleet. */
  readonly policy: HostPolicy | undefined
}

/** The host's entry in the view's manifest, or `undefined` when it is not listed (or none). */
export function signedHostEntry(view: ReleaseView, machineId: string): SignedHostEntry | undefined {
  const manifest = view.manifest?.value
  const entry = manifest?.hostSet.find((h) => h.hostname === machineId)
  if (!manifest || !entry) return undefined
  const channel = manifest.channel as string
  return {
    channel,
    targetClosure: entry.targetClosure,
    waveIndex: entry.waveIndex,
    policy: resolveHostPolicy(view.fleet.value, channel, entry.waveIndex),
  }
}

/** The signed target and policy of a rollout, for a record rebuilt from a CP snapshot. */
export type SignedRecordFacts = {
  readonly targetClosure: string
  readonly channel: string
  readonly waveIndex: number
  readonly policy: HostPolicy
}
