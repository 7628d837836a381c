/**
 * What a valid fleet will do, for `nixfleet fleet check`: the hosts of each channel, each wave
 * with the hosts it will actually roll out, each disruption budget with the hosts it covers and
 * its limits, and the host and channel edges.
 * Invariants: waves and budgets are resolved exactly as a release resolves them
 * (projection.ts): a wave lists only its channel's hosts, a host goes in the first wave that
 * lists it, a host no wave lists goes with the first wave, and a budget covers every host of the
 * fleet its selector matches. Host lists are sorted. Pure.
 */
import { selectorSummary } from '../planner/selector.ts'
import type { Selector } from '../types.ts'
import { type CheckedFleet, normalizeChannelEdge } from './fleet-rules.ts'
import { selectorMatches } from './selector.ts'

/** One channel: its policy, timing, hosts and waves. */
export type ChannelSummary = {
  readonly name: string
  readonly rolloutPolicy: string
  readonly strategy: string
  readonly freshnessWindow: number
  readonly signingIntervalMinutes: number
  readonly hosts: readonly string[]
  /** Waves in order; `hosts` are the ones this wave rolls out. */
  readonly waves: readonly { readonly soakMinutes: number; readonly hosts: readonly string[] }[]
  /** Hosts no wave lists (they go with the first wave). */
  readonly unwaved: readonly string[]
}

/** One disruption budget, its selector shown briefly. */
export type BudgetSummary = {
  readonly selector: string
  readonly maxInFlight: number | null
  readonly maxInFlightPct: number | null
  readonly hosts: readonly string[]
}

/** The summary of a fleet. */
export type FleetSummary = {
  readonly hosts: number
  readonly channels: readonly ChannelSummary[]
  readonly disruptionBudgets: readonly BudgetSummary[]
  readonly edges: readonly { gated: string; gates: string; reason: string | null }[]
  readonly channelEdges: readonly { gated: string; gates: string; reason: string | null }[]
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The summary of `fleet`, which passed `fleetViolations` (every reference resolves). */
export function summarizeFleet(fleet: CheckedFleet): FleetSummary {
  const hostNames = Object.keys(fleet.hosts).sort(byCodeUnits)
  const channels = Object.keys(fleet.channels)
    .sort(byCodeUnits)
    .map((name): ChannelSummary => {
      const c = fleet.channels[name]!
      const hosts = hostNames.filter((h) => fleet.hosts[h]!.channel === name)
      const waves = Object.hasOwn(fleet.waves, name) ? fleet.waves[name]! : []
      const first = (h: string) => waves.findIndex((w) => w.hosts.includes(h))
      return {
        name,
        rolloutPolicy: c.rolloutPolicy,
        strategy: fleet.rolloutPolicies[c.rolloutPolicy]?.strategy ?? '',
        freshnessWindow: c.freshnessWindow,
        signingIntervalMinutes: c.signingIntervalMinutes,
        hosts,
        waves: waves.map((w, i) => ({
          soakMinutes: w.soakMinutes,
          hosts: hosts.filter((h) => first(h) === i),
        })),
        unwaved: hosts.filter((h) => first(h) < 0),
      }
    })
  const disruptionBudgets = fleet.disruptionBudgets.map((b): BudgetSummary => {
    // An older budget's `hosts` list is the selector of exactly those hosts (proto/fleet.ts).
    const selector: Selector = b.selector ?? { hosts: b.hosts ?? [] }
    return {
      selector: selectorSummary(selector),
      maxInFlight: b.maxInFlight,
      maxInFlightPct: b.maxInFlightPct,
      hosts: hostNames.filter((h) => selectorMatches(selector, h, fleet.hosts[h]!)),
    }
  })
  return {
    hosts: hostNames.length,
    channels,
    disruptionBudgets,
    edges: fleet.edges.map((e) => ({ gated: e.gated, gates: e.gates, reason: e.reason })),
    channelEdges: fleet.channelEdges.map((e) => {
      const n = normalizeChannelEdge(e)
      return { gated: n.gated ?? '', gates: n.gates ?? '', reason: n.reason }
    }),
  }
}
