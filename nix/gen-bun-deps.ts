/**
 * bun.lock → nix/bun-deps.nix: one Nix `fetchurl` entry per package of the lockfile, so the Nix
 * package assembles `node_modules` offline from tarballs whose hashes Nix checks (the integrity
 * hashes bun.lock already carries). A dozen lines of Nix consume the output (nix/package.nix).
 *
 *   bun nix/gen-bun-deps.ts           rewrite nix/bun-deps.nix from bun.lock
 *   bun nix/gen-bun-deps.ts --check   exit 1 when nix/bun-deps.nix is stale (CI, nix/bun-deps.test.ts)
 *
 * Why not bun2nix: it is one more tool to pin and trust for what is a 150-line pure mapping, and
 * it cannot run here anyway. Invariants:
 * - Only registry tarballs are supported (`["name@version", "", {…}, "sha512-…"]`, or a tarball
 *   URL in the second slot). Git, GitHub, file and workspace entries are refused by name, never
 *   silently dropped: a dependency missing from the Nix build would only show up at run time.
 * - `dev = true` marks packages reachable only from devDependencies (types, test tooling,
 *   the compiler); the package build skips them. Reachability follows Node's lookup: from
 *   `a/b` a dependency `c` resolves to `a/b/c`, then `a/c`, then `c`.
 * - Output is deterministic (lockfile order), so the staleness test is a plain text comparison.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dir, '..')
export const LOCK_PATH = join(ROOT, 'bun.lock')
export const OUT_PATH = join(ROOT, 'nix', 'bun-deps.nix')
const REGISTRY = 'https://registry.npmjs.org'

/** One node_modules entry as the Nix side sees it. */
export type NixDep = {
  readonly path: string
  readonly name: string
  readonly version: string
  readonly url: string
  readonly hash: string
  readonly dev: boolean
}

type DepMap = Record<string, string>
type PackageMeta = {
  dependencies?: DepMap
  optionalDependencies?: DepMap
  peerDependencies?: DepMap
  optionalPeers?: string[]
}
type Workspace = { dependencies?: DepMap; optionalDependencies?: DepMap; peerDependencies?: DepMap }
type Lock = {
  lockfileVersion: number
  workspaces: Record<string, Workspace>
  packages: Record<string, unknown[]>
}

/** Splits a lockfile key (`tsyringe/tslib`, `@a/b/@c/d`) into package names. */
function keyNames(key: string): string[] {
  const parts = key.split('/')
  const names: string[] = []
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!
    names.push(p.startsWith('@') ? `${p}/${parts[++i]}` : p)
  }
  return names
}

/** The tarball URL of a registry package (`@scope/name` → `.../@scope/name/-/name-1.2.3.tgz`). */
function registryUrl(name: string, version: string): string {
  const base = name.startsWith('@') ? name.split('/')[1]! : name
  return `${REGISTRY}/${name}/-/${base}-${version}.tgz`
}

function splitIdent(ident: string): { name: string; version: string } {
  const at = ident.lastIndexOf('@')
  if (at <= 0) throw new Error(`bun.lock: cannot read package identifier '${ident}'`)
  return { name: ident.slice(0, at), version: ident.slice(at + 1) }
}

/** The entries of a bun.lock text, in lockfile order. Throws on anything it cannot pin. */
export function depsFromLock(text: string): NixDep[] {
  // bun.lock is JSON with trailing commas (JSONC); Bun parses that natively.
  const lock = Bun.JSONC.parse(text) as Lock
  if (lock.lockfileVersion !== 1 && lock.lockfileVersion !== 2) {
    throw new Error(
      `bun.lock: lockfileVersion ${lock.lockfileVersion} is not supported by nix/gen-bun-deps.ts`
    )
  }
  const entries = Object.entries(lock.packages)
  const metas = new Map<string, PackageMeta>()
  const base = new Map<string, Omit<NixDep, 'dev'>>()
  for (const [key, entry] of entries) {
    const [ident, source, meta, integrity] = entry as [
      string,
      unknown,
      PackageMeta | undefined,
      unknown,
    ]
    if (
      typeof ident !== 'string' ||
      /@(workspace|file|link|git|github):/.test(ident) ||
      typeof source !== 'string'
    ) {
      throw new Error(
        `bun.lock: ${key} is not a registry package (${String(ident)}); the Nix build only takes registry tarballs`
      )
    }
    if (typeof integrity !== 'string' || !/^sha(256|384|512)-[A-Za-z0-9+/]+=*$/.test(integrity)) {
      throw new Error(`bun.lock: ${key} has no integrity hash; the Nix build cannot pin it`)
    }
    const { name, version } = splitIdent(ident)
    const names = keyNames(key)
    if (names[names.length - 1] !== name)
      throw new Error(`bun.lock: key ${key} does not end in ${name}`)
    base.set(key, {
      path: names.map((n) => `node_modules/${n}`).join('/'),
      name,
      version,
      url: source === '' ? registryUrl(name, version) : source,
      hash: integrity,
    })
    metas.set(key, meta ?? {})
  }

  // Node's resolution from the package at `from` (a key, or '' for the workspace root).
  const resolveDep = (from: string, dep: string): string | undefined => {
    const stack = from === '' ? [] : keyNames(from)
    for (let n = stack.length; n >= 0; n--) {
      const candidate = [...stack.slice(0, n), dep].join('/')
      if (base.has(candidate)) return candidate
    }
    return undefined
  }
  const requiredOf = (m: PackageMeta | Workspace): string[] => {
    const optionalPeers = new Set('optionalPeers' in m ? (m.optionalPeers ?? []) : [])
    return [
      ...Object.keys(m.dependencies ?? {}),
      ...Object.keys(m.optionalDependencies ?? {}),
      ...Object.keys(m.peerDependencies ?? {}).filter((p) => !optionalPeers.has(p)),
    ]
  }

  const root = lock.workspaces['']
  if (!root) throw new Error('bun.lock: no root workspace')
  const prod = new Set<string>()
  const queue: [string, string][] = requiredOf(root).map((d) => ['', d])
  while (queue.length > 0) {
    const [from, dep] = queue.shift()!
    const key = resolveDep(from, dep)
    if (key === undefined) {
      // An optional dependency for another platform is legitimately absent; a required one is not.
      const optional = from !== '' && dep in (metas.get(from)?.optionalDependencies ?? {})
      if (optional) continue
      throw new Error(
        `bun.lock: ${from || 'the workspace'} needs ${dep}, which the lockfile does not contain`
      )
    }
    if (prod.has(key)) continue
    prod.add(key)
    for (const d of requiredOf(metas.get(key)!)) queue.push([key, d])
  }
  return [...base.entries()].map(([key, d]) => ({ ...d, dev: !prod.has(key) }))
}

/** The text of nix/bun-deps.nix for `deps`. */
export function renderNix(deps: readonly NixDep[]): string {
  const q = (s: string) => JSON.stringify(s).replaceAll('${', '\\${')
  const lines = [
    '# Generated from bun.lock by nix/gen-bun-deps.ts; do not edit. Regenerate with',
    '#   bun nix/gen-bun-deps.ts',
    '# (nix/bun-deps.test.ts fails when this file and bun.lock disagree.)',
    '# One entry per lockfile package: where it goes under node_modules, its registry tarball and',
    "# the lockfile's integrity hash, which fetchurl verifies. `dev` entries are only reachable",
    '# from devDependencies and are left out of the package build.',
    '[',
  ]
  for (const d of deps) {
    lines.push(
      '  {',
      `    path = ${q(d.path)};`,
      `    name = ${q(d.name)};`,
      `    version = ${q(d.version)};`,
      `    url = ${q(d.url)};`,
      `    hash = ${q(d.hash)};`,
      `    dev = ${d.dev};`,
      '  }'
    )
  }
  lines.push(']', '')
  return lines.join('\n')
}

/** The expected text of nix/bun-deps.nix for the bun.lock at `lockPath`. */
export function expectedNix(lockPath: string = LOCK_PATH): string {
  return renderNix(depsFromLock(readFileSync(lockPath, 'utf8')))
}

if (import.meta.main) {
  const expected = expectedNix()
  if (process.argv.includes('--check')) {
    let current = ''
    try {
      current = readFileSync(OUT_PATH, 'utf8')
    } catch {}
    if (current !== expected) {
      process.stderr.write(
        'nix/bun-deps.nix is stale: run `bun nix/gen-bun-deps.ts` after changing bun.lock\n'
      )
      process.exit(1)
    }
    process.stdout.write('nix/bun-deps.nix matches bun.lock\n')
  } else {
    writeFileSync(OUT_PATH, expected)
    process.stdout.write(`wrote ${OUT_PATH}\n`)
  }
}
