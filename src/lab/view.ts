/**
 * What an operator sees of a fleet: a per-channel, per-wave table of host states with the gate
 * decisions in words, rendered from the control plane's own API (`/v1/hosts`, `/v1/rollouts`),
 * plus the plain tables of the operator commands. Shared by `nixfleet demo` and
 * `nixfleet status`. Pure: rendering takes the fetched bodies and returns lines; colour only
 * when the caller says so (it checks `NO_COLOR` and whether stdout is a terminal).
 */

/** The fields of a `/v1/hosts` entry the view uses. */
export type HostEntry = {
  readonly hostname: string
  readonly channel: string
  readonly rolloutState?: string | null
  readonly converged?: boolean
  readonly currentClosure?: string | null
  readonly lastRollout?: { readonly id: string; readonly outcome: string | null } | null
  readonly quarantinedClosure?: string | null
  readonly gate?: { readonly gate: string; readonly reason: string } | null
  readonly problem?: { readonly kind: string; readonly message: string } | null
}

/** The fields of a `/v1/rollouts` entry the view uses. */
export type RolloutEntry = {
  readonly id: string
  readonly channel: string
  readonly currentWave: number
  readonly state?: string
  readonly halt?: { readonly reason?: string | null | undefined } | null
}

/** The lab's layout: channel → wave → hosts, in display order. */
export type ViewLayout = readonly {
  readonly channel: string
  readonly waves: readonly (readonly string[])[]
}[]

/** The glyph of every host state; `idle` is a host outside any rollout in flight. */
export const SYMBOL: Readonly<Record<string, string>> = {
  idle: '○',
  Pending: '·',
  Activating: '◐',
  Soaking: '◑',
  Deferred: '⏻',
  Converged: '✔',
  Failed: '✖',
  Reverted: '↺',
}

/** The symbol legend printed under the table. */
export const LEGEND =
  '○ idle  · pending  ◐ activating  ◑ soaking  ⏻ waiting for reboot  ✔ converged  ✖ failed  ↺ rolled back  ! has a problem'

/** Wraps `s` in an SGR colour code when `color`. */
export function paint(color: boolean, s: string, code: number): string {
  return color ? `\x1b[${code}m${s}\x1b[0m` : s
}

/** Columns padded to their widest cell, a header line first; empty cells show `-`. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === '' ? '-' : c)))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  )
}

/** The table lines for the current fleet state. */
export function renderFleet(
  layout: ViewLayout,
  hosts: readonly HostEntry[],
  rollouts: readonly RolloutEntry[],
  color: boolean
): string[] {
  const byName = new Map(hosts.map((h) => [h.hostname, h]))
  const tint: Record<string, number> = {
    Converged: 32,
    Failed: 31,
    Reverted: 33,
    Activating: 36,
    Soaking: 36,
    Deferred: 35,
  }
  const lines: string[] = []
  for (const { channel, waves } of layout) {
    const rollout = rollouts.find((r) => r.channel === channel)
    const head = rollout
      ? `${rollout.id.slice(0, channel.length + 9)} ${rollout.state ?? ''}${rollout.halt ? ' HALTED' : ''}`
      : 'no rollout in flight'
    lines.push(`  ${paint(color, channel.padEnd(8), 1)} ${head}`)
    waves.forEach((members, i) => {
      const cells = members.map((name) => {
        const h = byName.get(name)
        const state = h?.rolloutState ?? (h?.converged ? 'Converged' : 'idle')
        const sym = SYMBOL[state] ?? SYMBOL['idle']!
        return paint(color, `${sym} ${name}${h?.problem ? '!' : ''}`, tint[state] ?? 0)
      })
      lines.push(`      wave ${i}  ${cells.join('  ')}`)
    })
    const reasons = new Set<string>()
    for (const name of waves.flat()) {
      const h = byName.get(name)
      if (h?.gate && h.rolloutState === 'Pending') reasons.add(h.gate.reason)
      if (h?.problem) reasons.add(`${name}: ${h.problem.message}`)
      if (h?.quarantinedClosure)
        reasons.add(`closure ${h.quarantinedClosure.slice(0, 12)}… is quarantined on ${channel}`)
    }
    for (const r of [...reasons].slice(0, 2)) lines.push(`      ${paint(color, `↳ ${r}`, 2)}`)
  }
  return lines
}
