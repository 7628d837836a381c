/**
 * The invariants of a fleet as `nixfleet release` and `nixfleet fleet check` enforce them, on a
 * fleet.resolved whose keys and types were already checked (src/release/fleet-check.ts): the
 * rules of mkFleet (nix/lib/mk-fleet.nix, `invariantErrors`) that the resolved form can express,
 * with mkFleet's messages, so a fleet refused by one is refused by the other for the same reason.
 *
 * Invariants:
 * - Every violation is returned, in mkFleet's order (host channels, channel policies, edges,
 *   channel edges, cycles, freshness), names sorted; none stops the others. mkFleet's checks of
 *   configurations, compliance evidence and frameworks, and tag pins have nothing to check here:
 *   the resolved form carries none of what they read.
 * - The resolved form also carries what mkFleet computes and so never gets wrong, and the older
 *   spellings the wire still accepts; those get rules of their own, after mkFleet's: a host's
 *   `system`/`platform`, a budget's `selector`/`hosts`, and waves naming unknown channels or hosts.
 * Pure.
 */
import type { Selector } from '../types.ts'

/** A host, as fleet.resolved spells it (`system` from mkFleet, `platform` in newer files). */
export type CheckedHost = {
  readonly channel: string
  readonly tags: readonly string[]
  readonly system?: string | undefined
  readonly platform?: string | undefined
  /** A commit the host is held at (`release` builds it from there). */
  readonly pin?: { readonly commit: string } | null | undefined
}

/** A channel; `freshnessWindow` and `signingIntervalMinutes` are both in minutes. */
export type CheckedChannel = {
  readonly rolloutPolicy: string
  readonly freshnessWindow: number
  readonly signingIntervalMinutes: number
}

/** A channel edge in either spelling: `gates`/`gated`, or the deprecated `before`/`after`. */
export type CheckedChannelEdge = {
  readonly gates?: string | undefined
  readonly gated?: string | undefined
  readonly before?: string | undefined
  readonly after?: string | undefined
  readonly reason?: string | null | undefined
}

/** A disruption budget: a `selector`, or the older `hosts` list. */
export type CheckedBudget = {
  readonly selector?: Selector | undefined
  readonly hosts?: readonly string[] | undefined
  readonly maxInFlight: number | null
  readonly maxInFlightPct: number | null
}

/** A fleet.resolved that passed the key and type check, defaults filled in. */
export type CheckedFleet = {
  readonly hosts: Readonly<Record<string, CheckedHost>>
  readonly channels: Readonly<Record<string, CheckedChannel>>
  readonly rolloutPolicies: Readonly<Record<string, { readonly strategy: string }>>
  readonly waves: Readonly<
    Record<string, readonly { readonly hosts: readonly string[]; readonly soakMinutes: number }[]>
  >
  readonly edges: readonly {
    readonly gated: string
    readonly gates: string
    readonly reason: string | null
  }[]
  readonly channelEdges: readonly CheckedChannelEdge[]
  readonly disruptionBudgets: readonly CheckedBudget[]
}

/** A channel edge with one spelling chosen: the canonical name when given, else the alias. */
export function normalizeChannelEdge(e: CheckedChannelEdge): {
  gates: string | undefined
  gated: string | undefined
  reason: string | null
} {
  return { gates: e.gates ?? e.before, gated: e.gated ?? e.after, reason: e.reason ?? null }
}

/** The first cycle of a directed graph, as a path `[a, b, …, a]`, or `undefined`. */
export function findCycle(
  arcs: readonly { readonly from: string; readonly to: string }[]
): string[] | undefined {
  // mkFleet's search, step for step, so both name the same cycle: nodes in order of first
  // mention, depth first, successors in arc order.
  const next = new Map<string, string[]>()
  const nodes: string[] = []
  for (const { from, to } of arcs) {
    next.set(from, [...(next.get(from) ?? []), to])
    for (const n of [from, to]) if (!nodes.includes(n)) nodes.push(n)
  }
  const done = new Set<string>()
  const visit = (stack: string[], node: string): string[] | undefined => {
    if (done.has(node)) return undefined
    const at = stack.indexOf(node)
    if (at >= 0) return [...stack.slice(at), node]
    for (const to of next.get(node) ?? []) {
      const cycle = visit([...stack, node], to)
      if (cycle) return cycle
    }
    done.add(node)
    return undefined
  }
  for (const node of nodes) {
    const cycle = visit([], node)
    if (cycle) return cycle
  }
  return undefined
}

const sorted = <T>(record: Readonly<Record<string, T>>): [string, T][] =>
  Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/** Every invariant `fleet` violates, each one line naming what is at fault; [] when none. */
export function fleetViolations(fleet: CheckedFleet): string[] {
  const out: string[] = []
  const hosts = sorted(fleet.hosts)
  const channels = sorted(fleet.channels)
  const hasHost = (n: string) => Object.hasOwn(fleet.hosts, n)
  const hasChannel = (n: string) => Object.hasOwn(fleet.channels, n)

  for (const [name, h] of hosts) {
    if (!hasChannel(h.channel)) out.push(`host '${name}' references unknown channel '${h.channel}'`)
  }
  for (const [name, c] of channels) {
    if (!Object.hasOwn(fleet.rolloutPolicies, c.rolloutPolicy)) {
      out.push(`channel '${name}' references unknown rollout policy '${c.rolloutPolicy}'`)
    }
  }
  fleet.edges.forEach((e, i) => {
    if (!hasHost(e.gated)) out.push(`edges[${i}].gated references unknown host '${e.gated}'`)
    if (!hasHost(e.gates)) out.push(`edges[${i}].gates references unknown host '${e.gates}'`)
    const gated = hasHost(e.gated) ? fleet.hosts[e.gated]!.channel : undefined
    const gates = hasHost(e.gates) ? fleet.hosts[e.gates]!.channel : undefined
    if (gated !== undefined && gates !== undefined && gated !== gates) {
      out.push(
        `edges[${i}]: edge.gated '${e.gated}' (channel '${gated}') and edge.gates '${e.gates}' (channel '${gates}') are on different channels; use channelEdges for cross-channel ordering`
      )
    }
  })
  fleet.channelEdges.forEach((e, i) => {
    if (e.gates !== undefined && e.before !== undefined) {
      out.push(
        `channelEdges[${i}] sets both \`gates\` and \`before\` - pick one (canonical: \`gates\`)`
      )
    }
    if (e.gated !== undefined && e.after !== undefined) {
      out.push(
        `channelEdges[${i}] sets both \`gated\` and \`after\` - pick one (canonical: \`gated\`)`
      )
    }
    if (e.gates === undefined && e.before === undefined) {
      out.push(`channelEdges[${i}] must set \`gates\` (or legacy alias \`before\`)`)
    }
    if (e.gated === undefined && e.after === undefined) {
      out.push(`channelEdges[${i}] must set \`gated\` (or legacy alias \`after\`)`)
    }
  })
  const channelEdges = fleet.channelEdges.map(normalizeChannelEdge)
  channelEdges.forEach((e, i) => {
    if (e.gates !== undefined && !hasChannel(e.gates)) {
      out.push(`channelEdges[${i}].gates references unknown channel '${e.gates}'`)
    }
    if (e.gated !== undefined && !hasChannel(e.gated)) {
      out.push(`channelEdges[${i}].gated references unknown channel '${e.gated}'`)
    }
    if (e.gates !== undefined && e.gates === e.gated) {
      out.push(
        `channelEdges[${i}] has gates == gated ('${e.gates}'); use a wave-staged policy for intra-channel ordering instead`
      )
    }
  })
  // `gated` waits for `gates`: the path reads "a waits for b waits for … a".
  const hostCycle = findCycle(fleet.edges.map((e) => ({ from: e.gated, to: e.gates })))
  if (hostCycle) {
    out.push(
      `edges form a cycle (${hostCycle.join(' -> ')}, each gated by the next); the DAG invariant is violated`
    )
  }
  const channelCycle = findCycle(
    channelEdges.flatMap((e) =>
      e.gates !== undefined && e.gated !== undefined ? [{ from: e.gated, to: e.gates }] : []
    )
  )
  if (channelCycle) {
    out.push(
      `channelEdges form a cycle (${channelCycle.join(' -> ')}, each gated by the next); cross-channel ordering must be a DAG`
    )
  }
  for (const [name, c] of channels) {
    if (c.freshnessWindow < 2 * c.signingIntervalMinutes) {
      out.push(
        `channel '${name}': freshnessWindow (${c.freshnessWindow}) must be ≥ 2 × signingIntervalMinutes (${c.signingIntervalMinutes})`
      )
    }
  }

  // Beyond mkFleet: what it generates, and the spellings only older files use.
  for (const [name, h] of hosts) {
    if (h.system !== undefined && h.platform !== undefined) {
      out.push(`host '${name}' sets both \`system\` and \`platform\` - pick one`)
    }
    if (h.system === undefined && h.platform === undefined) {
      out.push(`host '${name}' must set \`system\` (or \`platform\`)`)
    }
  }
  fleet.disruptionBudgets.forEach((b, i) => {
    if (b.selector !== undefined && b.hosts !== undefined) {
      out.push(
        `disruptionBudgets[${i}] sets both \`selector\` and \`hosts\` - pick one (canonical: \`selector\`)`
      )
    }
    if (b.selector === undefined && b.hosts === undefined) {
      out.push(`disruptionBudgets[${i}] must set \`selector\` (or legacy \`hosts\`)`)
    }
  })
  for (const [channel, waves] of sorted(fleet.waves)) {
    if (!hasChannel(channel)) out.push(`waves references unknown channel '${channel}'`)
    waves.forEach((w, i) => {
      for (const h of w.hosts) {
        if (!hasHost(h)) out.push(`waves.${channel}[${i}] references unknown host '${h}'`)
      }
    })
  }
  return out
}
