/**
 * `nixfleet fleet check`: the check `nixfleet release` runs before it signs, alone — on a
 * fleet.resolved file or `nix eval` of a flake (nothing built, nothing signed) — and, for a valid
 * fleet, a summary of what it will do: each channel's hosts, its waves with the hosts each rolls
 * out, the disruption budgets with the hosts they cover, and the edges.
 * Exit codes: 0 valid, 1 invalid (every problem listed), 2 usage or I/O error.
 */
import {
  type ChannelSummary,
  type FleetSummary,
  summarizeFleet,
} from '../../core/release/fleet-summary.ts'
import { checkFleet, formatFleetProblems } from '../../release/fleet-check.ts'
import { type CommandSpec, type ParsedArgs, flag, str } from '../args.ts'
import { CliError, EXIT_OK, EXIT_VERIFY_FAILED } from '../errors.ts'
import { checkFleetClosures, closureExit, closureLines } from './fleet-check-closures.ts'
import { FLAKE_OPTIONS, evalFleet, readFleetFile } from './release-sources.ts'

/** The declaration of `nixfleet fleet check`. */
export const fleetCheckSpec: CommandSpec = {
  name: 'fleet check',
  summary: "check a fleet.resolved against mkFleet's rules and summarize it, without signing",
  usage:
    'nixfleet fleet check (FILE | --flake REF) [--fleet-resolved-attr ATTR] [--nix PATH]\n' +
    '                          [--closures FILE --cache URL] [--json]',
  details:
    'FILE is a fleet.resolved.json ("-" for stdin); --flake evaluates REF#fleet.resolved and builds\n' +
    'nothing. The checks are those `nixfleet release` runs before it signs: every key known at\n' +
    'every level (with a "did you mean"), the types, then the invariants: hosts on declared\n' +
    'channels, channels on declared rollout policies, edges between declared hosts of one channel,\n' +
    'no cycle in edges or channelEdges, freshnessWindow at least 2 × signingIntervalMinutes.\n' +
    'A valid fleet is summarized: the hosts of each channel, its waves with the hosts each rolls\n' +
    'out, the disruption budgets with their limits and hosts, the host and channel edges.\n' +
    'With --closures FILE (the closures file `nixfleet release` takes) and --cache URL (http(s)\n' +
    "or file://), also checks that the cache holds every host's closure (its narinfo): each\n" +
    'missing one is listed with what to push, and the check exits 1.\n' +
    'Exit codes: 0 valid, 1 invalid (every problem listed), 2 usage or I/O error.',
  options: {
    flake: { ...FLAKE_OPTIONS.flake, description: 'evaluate REF#fleet.resolved (builds nothing)' },
    'fleet-resolved-attr': FLAKE_OPTIONS['fleet-resolved-attr'],
    nix: FLAKE_OPTIONS.nix,
    json: { type: 'boolean', description: 'print one JSON object instead of text' },
    closures: { type: 'string', value: 'FILE', description: 'hostname → store path to check' },
    cache: { type: 'string', value: 'URL', description: 'binary cache the hosts fetch from' },
  },
  positionals: { min: 0, max: 1, names: 'FILE or --flake REF' },
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
const names = (hosts: readonly string[]): string => (hosts.length ? hosts.join(', ') : '(none)')

function limits(b: FleetSummary['disruptionBudgets'][number]): string {
  const caps = [
    b.maxInFlight === null ? '' : String(b.maxInFlight),
    b.maxInFlightPct === null ? '' : `${b.maxInFlightPct}%`,
  ].filter(Boolean)
  return caps.length ? `at most ${caps.join(' and ')} in flight` : 'no limit'
}

function channelLines(c: ChannelSummary): string[] {
  const policy =
    c.strategy === c.rolloutPolicy ? c.rolloutPolicy : `${c.rolloutPolicy} (${c.strategy})`
  const lines = [
    `channel ${c.name}: ${plural(c.hosts.length, 'host')}, policy ${policy}, freshness window ${c.freshnessWindow} min, signed every ${c.signingIntervalMinutes} min`,
    `  hosts: ${names(c.hosts)}`,
  ]
  c.waves.forEach((w, i) => {
    lines.push(`  wave ${i + 1} (soak ${w.soakMinutes} min): ${names(w.hosts)}`)
  })
  if (c.unwaved.length > 0) {
    lines.push(
      c.waves.length === 0
        ? `  no waves: ${names(c.unwaved)} in one step`
        : `  in no wave, so with wave 1: ${names(c.unwaved)}`
    )
  }
  return lines
}

/** The text summary of a valid fleet. */
export function renderSummary(source: string, s: FleetSummary): string {
  const lines = [
    `${source}: valid — ${plural(s.hosts, 'host')} on ${plural(s.channels.length, 'channel')}, ${plural(s.disruptionBudgets.length, 'disruption budget')}, ${plural(s.edges.length, 'host edge')}, ${plural(s.channelEdges.length, 'channel edge')}`,
    ...s.channels.flatMap(channelLines),
  ]
  const section = (title: string, items: string[]) =>
    lines.push(items.length ? `${title}:` : `${title}: none`, ...items.map((i) => `  ${i}`))
  section(
    'disruption budgets',
    s.disruptionBudgets.map((b) => `${b.selector}, ${limits(b)}: ${names(b.hosts)}`)
  )
  const reason = (r: string | null) => (r ? ` (${r})` : '')
  section(
    'host edges',
    s.edges.map((e) => `${e.gated} waits for ${e.gates}${reason(e.reason)}`)
  )
  section(
    'channel edges',
    s.channelEdges.map((e) => `${e.gated} waits for ${e.gates}${reason(e.reason)}`)
  )
  return lines.join('\n')
}

/** Runs `nixfleet fleet check`. */
export async function fleetCheck(args: ParsedArgs): Promise<number> {
  const file = args.positionals[0]
  if ((file === undefined) === (str(args, 'flake') === undefined)) {
    throw new CliError('fleet check: give exactly one of FILE or --flake REF')
  }
  const input =
    file === undefined ? await evalFleet(args, 'fleet check') : await readFleetFile(file)
  const check = checkFleet(input.raw)
  const json = flag(args, 'json')
  if (!check.ok) {
    process.stdout.write(
      json
        ? `${JSON.stringify({ ok: false, source: input.source, title: check.title, violations: check.violations })}\n`
        : `INVALID ${input.source}: ${formatFleetProblems(check)}\n`
    )
    return EXIT_VERIFY_FAILED
  }
  const summary = summarizeFleet(check.fleet)
  const closuresFile = str(args, 'closures')
  const cache = str(args, 'cache')
  if ((closuresFile === undefined) !== (cache === undefined))
    throw new CliError('fleet check: --closures and --cache go together')
  const closures =
    closuresFile === undefined || cache === undefined
      ? undefined
      : await checkFleetClosures(closuresFile, cache, Object.keys(check.fleet.hosts))
  const code = closures === undefined ? EXIT_OK : closureExit(closures)
  process.stdout.write(
    json
      ? `${JSON.stringify({ ok: code === EXIT_OK, source: input.source, summary, ...(closures ? { closures } : {}) })}\n`
      : `${[renderSummary(input.source, summary), ...(closures ? closureLines(closures) : [])].join('\n')}\n`
  )
  return code
}
