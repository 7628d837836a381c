/**
 * Where `nixfleet release` gets its inputs: the fleet and closures from `nix eval`/`nix build`
 * of a flake or from a closures file, and the release commit. Every failure is one line naming
 * the command or file at fault.
 */
import { basename } from 'node:path'
import * as v from 'valibot'
import type { JsonValue } from '../../crypto/canonical-json.ts'
import { CiCommitSchema, ClosureHashSchema } from '../../proto/ids.ts'
import { type ParsedArgs, str } from '../args.ts'
import { CliError } from '../errors.ts'
import { readInput } from '../io.ts'
import { parseJsonBytes } from '../load.ts'

async function runCapture(cmd: string[], what: string): Promise<string> {
  let proc: ReturnType<typeof Bun.spawn>
  try {
    proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  } catch {
    throw new CliError(`release: cannot run ${cmd[0]} (${what}): not found or not executable`)
  }
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout as ReadableStream).text(),
    new Response(proc.stderr as ReadableStream).text(),
    proc.exited,
  ])
  if (code !== 0) {
    const tail = err.trim().split('\n').slice(-1)[0] ?? ''
    throw new CliError(
      `release: ${what} failed (exit ${code})${tail ? `: ${tail.slice(0, 300)}` : ''}`
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

/** `nix eval REF#ATTR` for the fleet, then `nix build` of every host (pinned hosts at their commit). */
export async function fromFlake(
  args: ParsedArgs,
  ciCommit: string
): Promise<{ fleet: JsonValue; closures: Record<string, string> }> {
  const nix = str(args, 'nix')!
  const ref = str(args, 'flake')!
  const attr = str(args, 'fleet-resolved-attr')!
  const out = await runCapture([nix, 'eval', '--json', `${ref}#${attr}`], `nix eval ${ref}#${attr}`)
  const fleet = parseJsonBytes(new TextEncoder().encode(out), `nix eval ${ref}#${attr}`)
  const hosts = (fleet as { hosts?: Record<string, { pin?: { commit?: string } }> }).hosts ?? {}
  const closures: Record<string, string> = {}
  for (const host of Object.keys(hosts).sort()) {
    const pin = hosts[host]?.pin?.commit
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
  return { fleet, closures }
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
