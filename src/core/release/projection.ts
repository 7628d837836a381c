/**
 * What a verified fleet means for one channel: the post-verify all-at-once normalisation and
 * the rollout-manifest projection (protocol §3.1–3.2, reference `manifest.rs`), plus the
 * consumer cross-checks (discriminator and `fleetResolvedHash` anchor).
 * Invariants: `hostSet` is sorted by hostname and budget host lists alphabetically, because
 * JCS never re-sorts arrays and the signature covers producer order; budgets are resolved
 * against ALL fleet hosts, honouring `and`/`not` as mkFleet does, and frozen for the rollout's
 * life. Pure: the fleet hash is passed in.
 */
import type { Selector } from '../../proto/common.ts'
import type { FleetResolved, RolloutPolicy } from '../../proto/fleet.ts'
import type { ChannelName, Hostname } from '../../proto/ids.ts'
import type { RolloutManifest } from '../../proto/manifest.ts'
import { rolloutIdOf } from '../types.ts'
import { selectorMatches } from './selector.ts'

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

// Own entries only: channel and policy names such as "constructor" must not hit Object.prototype.
const own = <T>(record: Readonly<Record<string, T>>, key: string): T | undefined =>
  Object.hasOwn(record, key) ? record[key] : undefined

/** The fleet with every `all-at-once` policy that has no waves given one synthetic wave. */
export function normalizeRolloutPolicies(fleet: FleetResolved): FleetResolved {
  const policies: Record<string, RolloutPolicy> = {}
  let changed = false
  for (const [name, policy] of Object.entries(fleet.rolloutPolicies)) {
    if (policy.strategy === 'all-at-once' && policy.waves.length === 0) {
      changed = true
      policies[name] = {
        ...policy,
        waves: [
          {
            selector: { all: true, channel: null, hosts: [], tags: [], tagsAny: [] },
            soakMinutes: 0,
          },
        ],
      }
    } else {
      policies[name] = policy
    }
  }
  return changed ? { ...fleet, rolloutPolicies: policies } : fleet
}

// The selector as a manifest carries it: the reference's five fields always, `and`/`not` only
// when they say something, so a fleet without them (mkFleet writes `and: [], not: null`
// everywhere) projects the same bytes as the reference's projection.
function manifestSelector(selector: Selector): Selector {
  const { and, not, ...plain } = selector
  return {
    ...plain,
    ...(and !== undefined && and.length > 0 ? { and: and.map(manifestSelector) } : {}),
    ...(not != null ? { not: manifestSelector(not) } : {}),
  }
}

/** The rollout id of a channel in a fleet: `{channel}@{ciCommit}`. */
export function rolloutIdFor(channel: string, ciCommit: string | null): string {
  return rolloutIdOf(channel, ciCommit ?? '')
}

/**
 * The rollout manifest of `channel`, or `undefined` when no host of the channel has a closure.
 * `algorithm` is the release's signature algorithm, stamped into the manifest's meta.
 */
export function projectRolloutManifest(
  fleet: FleetResolved,
  fleetResolvedHash: string,
  channel: ChannelName,
  algorithm: string
): RolloutManifest | undefined {
  const waves = own(fleet.waves, channel) ?? []
  const hostSet = (Object.entries(fleet.hosts) as [Hostname, (typeof fleet.hosts)[Hostname]][])
    .filter(([, h]) => h.channel === channel && h.closureHash !== null)
    .map(([hostname, h]) => {
      const wave = waves.findIndex((w) => w.hosts.includes(hostname))
      return { hostname, waveIndex: wave < 0 ? 0 : wave, targetClosure: h.closureHash as string }
    })
    .sort((a, b) => byCodeUnits(a.hostname, b.hostname))
  if (hostSet.length === 0) return undefined

  const hostEntries = Object.entries(fleet.hosts) as [Hostname, (typeof fleet.hosts)[Hostname]][]
  const disruptionBudgets = fleet.disruptionBudgets.map((b) => ({
    selector: manifestSelector(b.selector),
    hosts: hostEntries
      .filter(([name, h]) => selectorMatches(b.selector, name, h))
      .map(([name]) => name)
      .sort(byCodeUnits),
    maxInFlight: b.maxInFlight,
    maxInFlightPct: b.maxInFlightPct,
  }))
  const channelDef = own(fleet.channels, channel)
  const policyName = channelDef?.rolloutPolicy
  const policy = policyName === undefined ? undefined : own(fleet.rolloutPolicies, policyName)
  const ciCommit = fleet.meta.ciCommit
  return {
    schemaVersion: 1,
    displayName: `${channel}@${ciCommit ? ciCommit.slice(0, 8) : 'unknown'}`,
    channel,
    channelRef: ciCommit ?? '',
    fleetResolvedHash,
    hostSet,
    healthGate: policy?.healthGate ?? {},
    // The reference fork's agents require it; [] when the fleet carries no compliance posture.
    complianceFrameworks: channelDef?.compliance?.frameworks ?? [],
    disruptionBudgets,
    meta: {
      schemaVersion: 1,
      signedAt: fleet.meta.signedAt,
      ciCommit,
      signatureAlgorithm: algorithm,
    },
  } as RolloutManifest
}

/** Why a verified manifest must not be used for `rolloutId` with this fleet, or `undefined`. */
export function checkManifestBinding(
  manifest: {
    readonly channel: string
    readonly channelRef: string
    readonly fleetResolvedHash: string
  },
  rolloutId: string,
  fleetResolvedHash: string | undefined
): { kind: 'RolloutIdMismatch' | 'AnchorMismatch'; message: string } | undefined {
  const actual = rolloutIdFor(manifest.channel, manifest.channelRef)
  if (actual !== rolloutId) {
    return {
      kind: 'RolloutIdMismatch',
      message: `manifest is for rollout ${actual}, not ${rolloutId} (discriminator mismatch)`,
    }
  }
  if (fleetResolvedHash !== undefined && manifest.fleetResolvedHash !== fleetResolvedHash) {
    return {
      kind: 'AnchorMismatch',
      message:
        'manifest fleetResolvedHash does not match the fleet.resolved it claims to derive from',
    }
  }
  return undefined
}
