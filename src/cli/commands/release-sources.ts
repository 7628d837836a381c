/**
 * Where `nixfleet release` and `nixfleet fleet check` get their inputs: the fleet from a file or
 * `nix eval` of a flake, checked against mkFleet's rules before anything else happens; the
 * closures from `nix build` or a closures file; and the release commit. Every failure is one
 * line naming the command or file at fault, except an invalid fleet: one line per problem.
 */
import { basename } from 'node:path'
import * as v from 'valibot'
import type { CheckedFleet } from '../../core/release/fleet-rules.ts'
import type { JsonValue } from '../../crypto/canonical-json.ts'
import { CiCommitSchema, ClosureHashSchema } from '../../proto/ids.ts'
import { checkFleet, formatFleetProblems } from '../../release/fleet-check.ts'
import { type OptionSpec, type ParsedArgs, str } from '../args.ts'
import { CliError } from '../errors.ts'
import { readInput } from '../io.ts'
import { parseJsonBytes } from '../load.ts'

/** The options that evaluate a fleet from a flake, shared by `release` and `fleet check`. */
export const FLAKE_OPTIONS = {
  flake: {
    type: 'string',
    value: 'REF',
    description: 'evaluate REF#fleet.resolved and build every host',
  },
  'fleet-resolved-attr': {
    type: 'string',
    value: 'ATTR',
    description: 'attribute evaluated with --flake',
    default: 'fleet.resolved',
  },
  nix: {
    type: 'string',
    value: 'PATH',
    description: 'nix binary for --flake',
    default: 'nix',
    env: 'NIXFLEET_NIX',
  },
} as const satisfies Record<string, OptionSpec>

/** A fleet as read, with the name error messages give its source (`fleet FILE`, `nix eval …`). */
export type FleetInput = { readonly raw: JsonValue; readonly source: string }

async function runCapture(cmd: string[], what: string, command = 'release'): Promise<string> {
  let proc: ReturnType<typeof Bun.spawn>
  try {
    proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  } catch {
    throw new CliError(`${command}: cannot run ${cmd[0]} (${what}): not found or not executable`)
  }
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout as ReadableStream).text(),
    new Response(proc.stderr as ReadableStream).text(),
    proc.exited,
  ])
  if (code !== 0) {
    const tail = err.trim().split('\n').slice(-1)[0] ?? ''
    throw new CliError(
      `${command}: ${what} failed (exit ${code})${tail ? `: ${tail.slice(0, 300)}` : ''}`
    )
  }
  return out
}

function storeBasename(value: string, label: string): string {
  const base = basename(value.trim())
  const r = v.safeParse(ClosureHashSchema, base)
  if (!r.success)
    throw new CliError(
      `release: ${label}: ${base.slice(0, 80)} is not a Nix store path or basename`
    )
  return base
}

/** The closures file: hostname → store path (or basename), each checked as a store basename. */
export async function loadClosures(path: string): Promise<Record<string, string>> {
  const raw = parseJsonBytes(await readInput(path, 'closures'), `closures ${path}`)
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CliError(`closures ${path}: expected a JSON object of hostname → store path`)
  }
  const out: Record<string, string> = {}
  for (const [host, p] of Object.entries(raw)) {
    if (typeof p !== 'string')
      throw new CliError(`closures ${path}: ${host.slice(0, 64)}: expected a string`)
    out[host] = storeBasename(p, `closures ${path}: ${host.slice(0, 64)}`)
  }
  return out
}

/** The fleet of a file (`-` reads stdin). */
export async function readFleetFile(path: string): Promise<FleetInput> {
  const source = `fleet ${path === '-' ? 'stdin' : path}`
  return { raw: parseJsonBytes(await readInput(path, 'fleet'), source), source }
}

/** `nix eval --json REF#ATTR`: the fleet of `--flake`, evaluated only (nothing is built). */
export async function evalFleet(args: ParsedArgs, command: string): Promise<FleetInput> {
  const nix = str(args, 'nix')!
  const ref = str(args, 'flake')!
  const attr = str(args, 'fleet-resolved-attr')!
  const source = `nix eval ${ref}#${attr}`
  const out = await runCapture([nix, 'eval', '--json', `${ref}#${attr}`], source, command)
  return { raw: parseJsonBytes(new TextEncoder().encode(out), source), source }
}

/** The fleet checked against mkFleet's rules; otherwise every problem, one line each (exit 2). */
export function requireValidFleet(fleet: FleetInput): CheckedFleet {
  const check = checkFleet(fleet.raw)
  if (!check.ok) throw new CliError(`${fleet.source}: ${formatFleetProblems(check)}`)
  return check.fleet
}

/** `nix build` of every host of `fleet` (pinned hosts at their commit): hostname → closure. */
export async function buildClosures(
  args: ParsedArgs,
  fleet: CheckedFleet,
  ciCommit: string
): Promise<Record<string, string>> {
  const nix = str(args, 'nix')!
  const ref = str(args, 'flake')!
  const closures: Record<string, string> = {}
  for (const host of Object.keys(fleet.hosts).sort()) {
    const pin = fleet.hosts[host]!.pin?.commit
    let installable = `${ref}#nixosConfigurations.${host}.config.system.build.toplevel`
    if (pin && pin !== ciCommit) {
      const src = str(args, 'pin-source-url')
      if (!src)
        throw new CliError(
          `release: host ${host} is pinned to ${pin.slice(0, 12)}; pass --pin-source-url`
        )
      installable = `${src}?rev=${pin}#nixosConfigurations.${host}.config.system.build.toplevel`
    }
    const path = await runCapture(
      [nix, 'build', '--no-link', '--print-out-paths', installable],
      `nix build ${host}`
    )
    closures[host] = storeBasename(path.trim().split('\n')[0] ?? '', `nix build ${host}`)
  }
  return closures
}

/** The release commit: `--ci-commit`, or `git rev-parse HEAD`. */
export async function resolveCiCommit(args: ParsedArgs): Promise<string> {
  let commit = str(args, 'ci-commit')
  if (commit === undefined) {
    try {
      commit = (await runCapture(['git', 'rev-parse', 'HEAD'], 'git rev-parse HEAD')).trim()
    } catch {
      throw new CliError('release: cannot determine the release commit; pass --ci-commit SHA')
    }
  }
  if (!v.safeParse(CiCommitSchema, commit).success) {
    throw new CliError('release: --ci-commit must be a lowercase hex commit id')
  }
  return commit
}
