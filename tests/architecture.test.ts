/**
 * The layers of `src/`, and the purity boundary of `src/core`.
 *
 * Layers, lowest first; a module may import its own top-level folder and any lower layer, never
 * a higher one or another folder of its own layer (so the two daemons, `cp` and `agent`, never
 * import each other), and nothing under src/ imports tests/:
 *   proto, lib → core, crypto → runtime, db, pki, release, ui → cp | agent → lab → cli → main.ts
 * (`package.json` may be read by anyone for the version.)
 *
 * The purity boundary of `src/core` (STYLE §7 rule 2, DECISIONS §4): core does no I/O, reads no
 * clock and uses no randomness, so the same code runs identically on the agent and the CP and
 * can be tested exhaustively. This test scans the sources and fails on any breach.
 *
 * Rules, for every non-test `.ts` file under src/core:
 * - imports (static `import`/`export … from`, dynamic `import()`, `require()`) may only name
 *   relative paths that stay inside src/core, or — with `import type` / `export type` — relative
 *   paths into src/proto; nothing else (bun, bun:*, node:*, hono, drizzle-orm, @noble/*,
 *   valibot or any other package);
 * - the text may not contain `Date.now`, `new Date(`, `Math.random`, `crypto.` or `performance.`.
 * Test files (`*.test.ts`) may import test tooling but are held to the same banned tokens, so
 * core tests stay deterministic too.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

const ROOT = resolve(import.meta.dir, '..')
const CORE = join(ROOT, 'src', 'core')
const PROTO = join(ROOT, 'src', 'proto')
const SRC = join(ROOT, 'src')

/** The layer of each top-level entry of src/: lower numbers are imported by higher ones. */
const LAYERS: Readonly<Record<string, number>> = {
  proto: 0,
  lib: 0,
  core: 1,
  crypto: 1,
  runtime: 2,
  db: 2,
  pki: 2,
  release: 2,
  ui: 2,
  cp: 3,
  agent: 3,
  lab: 4,
  cli: 5,
  'main.ts': 6,
}

const BANNED_TOKENS = ['Date.now', 'new Date(', 'Math.random', 'crypto.', 'performance.']

type Import = { readonly specifier: string; readonly typeOnly: boolean; readonly line: number }

// `import … from 'x'`, `import 'x'`, `export … from 'x'` (multi-line clauses included),
// `import('x')` and `require('x')`.
const STATIC_RE = /^[ \t]*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm
const DYNAMIC_RE = /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g

/** The import specifiers of a source text. */
function importsOf(source: string): Import[] {
  const out: Import[] = []
  const lineAt = (index: number) => source.slice(0, index).split('\n').length
  for (const m of source.matchAll(STATIC_RE)) {
    out.push({ specifier: m[3]!, typeOnly: m[2] !== undefined, line: lineAt(m.index) })
  }
  for (const m of source.matchAll(DYNAMIC_RE)) {
    out.push({ specifier: m[1]!, typeOnly: false, line: lineAt(m.index) })
  }
  return out
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path)
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep)
}

/** The purity violations of one core source file at `path` (absolute). */
function violationsOf(path: string, source: string): string[] {
  const where = relative(ROOT, path)
  const out: string[] = []
  const isTest = path.endsWith('.test.ts')
  source.split('\n').forEach((text, i) => {
    for (const token of BANNED_TOKENS) {
      if (text.includes(token)) out.push(`${where}:${i + 1} uses ${token}`)
    }
  })
  if (isTest) return out
  for (const imp of importsOf(source)) {
    const at = `${where}:${imp.line} imports '${imp.specifier}'`
    if (!imp.specifier.startsWith('.')) {
      out.push(`${at}: core may only import relative modules`)
      continue
    }
    const target = resolve(dirname(path), imp.specifier)
    if (inside(CORE, target)) continue
    if (inside(PROTO, target) && imp.typeOnly) continue
    out.push(
      inside(PROTO, target)
        ? `${at}: proto may only be imported with 'import type'`
        : `${at}: outside src/core`
    )
  }
  return out
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

/** The layering violations of one non-test source file at `path` (absolute, under src/). */
function layerViolationsOf(path: string, source: string): string[] {
  const where = relative(ROOT, path)
  const from = relative(SRC, path).split(sep)[0]!
  const fromLayer = LAYERS[from]
  if (fromLayer === undefined) return [`${where}: src/${from} has no layer (add it to LAYERS)`]
  const out: string[] = []
  for (const imp of importsOf(source)) {
    if (!imp.specifier.startsWith('.')) continue
    const target = resolve(dirname(path), imp.specifier)
    if (target === join(ROOT, 'package.json')) continue
    const at = `${where}:${imp.line} imports '${imp.specifier}'`
    if (!inside(SRC, target)) {
      out.push(`${at}: outside src/`)
      continue
    }
    const to = relative(SRC, target).split(sep)[0]!
    if (to === from) continue
    const toLayer = LAYERS[to]
    if (toLayer === undefined || toLayer >= fromLayer) {
      out.push(`${at}: ${from} (layer ${fromLayer}) may not import ${to} (layer ${toLayer ?? '?'})`)
    }
  }
  return out
}

describe('src layers', () => {
  test('every import runs down the layers', () => {
    const files = sourceFiles(SRC).filter((f) => !f.endsWith('.test.ts'))
    expect(files.length).toBeGreaterThan(100)
    const violations = files.flatMap((f) => layerViolationsOf(f, readFileSync(f, 'utf8')))
    expect(violations).toEqual([])
  })

  test('the checker flags upward, sideways and out-of-tree imports', () => {
    const at = (rel: string) => join(SRC, rel)
    expect(layerViolationsOf(at('cp/x.ts'), "import { a } from '../cli/args.ts'")).toEqual([
      "src/cp/x.ts:1 imports '../cli/args.ts': cp (layer 3) may not import cli (layer 5)",
    ])
    expect(
      layerViolationsOf(at('agent/x.ts'), "import type { R } from '../cp/reducer.ts'")
    ).toEqual([
      "src/agent/x.ts:1 imports '../cp/reducer.ts': agent (layer 3) may not import cp (layer 3)",
    ])
    expect(
      layerViolationsOf(at('lab/x.ts'), "import { f } from '../../tests/support/fixtures.ts'")
    ).toHaveLength(1)
    expect(
      layerViolationsOf(at('core/x.ts'), "import { toHex } from '../crypto/x.ts'")
    ).toHaveLength(1)
    expect(layerViolationsOf(at('cli/x.ts'), "import { c } from '../cp/http/app.ts'")).toEqual([])
    expect(layerViolationsOf(at('cp/http/x.ts'), "import { s } from '../state.ts'")).toEqual([])
    expect(layerViolationsOf(at('main.ts'), "import pkg from '../package.json'")).toEqual([])
  })
})

describe('src/core purity', () => {
  test('no core file imports I/O, framework or crypto modules, reads a clock or uses randomness', () => {
    const files = sourceFiles(CORE)
    expect(files.length).toBeGreaterThan(10)
    const violations = files.flatMap((f) => violationsOf(f, readFileSync(f, 'utf8')))
    expect(violations).toEqual([])
  })
})

describe('the scanner itself', () => {
  const at = (rel: string) => join(CORE, rel)

  test('flags every banned import form', () => {
    const banned = [
      "import { Database } from 'bun:sqlite'",
      "import { file } from 'bun'",
      "import { readFileSync } from 'node:fs'",
      "import { Hono } from 'hono'",
      "import { eq } from 'drizzle-orm'",
      "import { sha256 } from '@noble/hashes/sha2'",
      "import * as v from 'valibot'",
      "export { x } from 'node:path'",
      "import 'node:process'",
      "const m = await import('node:os')",
      "const fs = require('fs')",
      "import {\n  a,\n  b,\n} from 'hono/utils'",
      "import type { Row } from 'drizzle-orm'",
    ]
    for (const src of banned) expect(violationsOf(at('host/x.ts'), src)).toHaveLength(1)
  })

  test('allows relative core imports and type-only proto imports, not runtime proto imports', () => {
    expect(violationsOf(at('host/x.ts'), "import { step } from './step.ts'")).toEqual([])
    expect(violationsOf(at('host/x.ts'), "import type { A } from '../types.ts'")).toEqual([])
    expect(
      violationsOf(at('host/x.ts'), "import type { FleetResolved } from '../../proto/fleet.ts'")
    ).toEqual([])
    expect(
      violationsOf(at('host/x.ts'), "import { FleetResolvedSchema } from '../../proto/fleet.ts'")
    ).toEqual([
      "src/core/host/x.ts:1 imports '../../proto/fleet.ts': proto may only be imported with 'import type'",
    ])
    expect(
      violationsOf(at('host/x.ts'), "import { toHex } from '../../lib/bytes.ts'")
    ).toHaveLength(1)
  })

  test('flags clocks and randomness anywhere in the text, tests included', () => {
    for (const token of [
      'Date.now()',
      'new Date()',
      'Math.random()',
      'crypto.randomUUID()',
      'performance.now()',
    ]) {
      expect(violationsOf(at('planner/x.ts'), `const t = ${token}`)).toHaveLength(1)
      expect(violationsOf(at('planner/x.test.ts'), `const t = ${token}`)).toHaveLength(1)
    }
    expect(violationsOf(at('planner/x.test.ts'), "import fc from 'fast-check'")).toEqual([])
  })
})
