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
 *
 * The shells read time only through the injected clock (DECISIONS §4), in every non-test file of
 * src/. A clock read is anything that observes the current time: `Date.now`, `Date()` or
 * `new Date()` without an argument, `performance.now`, `process.hrtime`, `Bun.nanoseconds`. Only
 * src/runtime/clock.ts (the `Clock` every shell is handed, `systemClock` in production) makes
 * them, and src/ui/client/clock.ts for the dashboard's browser code (the browser's own clock). Timers (`setTimeout`, `setInterval`) are not clock reads: they observe no time, and the
 * ones a test must drive are injected (`runtime/timers.ts`, `agent/timing.ts`); the rest bound
 * real I/O (a socket's idle time, a child's kill grace), where a fake clock would mean nothing.
 *
 * The reducers run in one place per process: outside src/core, only the two mutators
 * (src/cp/mutator, src/agent/mutator) may import or call `step`, `stepRollout` or `planNext`, so
 * no worker or handler can change state behind the mutator's back.
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

/** The only module that reads a clock; every other reads time through a `Clock` it is given. */
const CLOCK_MODULE = join(SRC, 'runtime', 'clock.ts')
/** The dashboard's browser code reads the browser's clock, through its own module. */
const BROWSER_CLOCK_MODULE = join(SRC, 'ui', 'client', 'clock.ts')

const CLOCK_READS: readonly (readonly [RegExp, string])[] = [
  [/\bDate\.now\b/, 'Date.now'],
  [/\bDate\(\s*\)/, 'Date() without an argument'],
  [/\bperformance\.now\b/, 'performance.now'],
  [/\bprocess\.hrtime\b/, 'process.hrtime'],
  [/\bBun\.nanoseconds\b/, 'Bun.nanoseconds'],
]

/** The clock reads of one non-test source file at `path` (absolute, under src/). */
function clockReadsOf(path: string, source: string): string[] {
  if (path === CLOCK_MODULE || path === BROWSER_CLOCK_MODULE) return []
  const where = relative(ROOT, path)
  const out: string[] = []
  source.split('\n').forEach((text, i) => {
    for (const [re, what] of CLOCK_READS) {
      if (re.test(text))
        out.push(`${where}:${i + 1} reads the clock (${what}); use the injected Clock`)
    }
  })
  return out
}

const REDUCERS = ['step', 'stepRollout', 'planNext']
const MUTATORS = [join(SRC, 'cp', 'mutator'), join(SRC, 'agent', 'mutator')]
const NAMED_IMPORT_RE = /^[ \t]*import\s+(type\s+)?\{([^}]*)\}\s*from\s*['"]([^'"]+)['"]/gm
const NAMESPACE_IMPORT_RE = /^[ \t]*import\s+\*\s+as\s+(\w+)\s+from\s*['"]([^'"]+)['"]/gm
const CALL_RE = /(?<![\w$.])(step|stepRollout|planNext)\s*\(/g

/** Where a non-test file outside core and the mutators imports or calls a reducer. */
function reducerUsesOf(path: string, source: string): string[] {
  if (inside(CORE, path) || MUTATORS.some((m) => inside(m, path))) return []
  const where = relative(ROOT, path)
  const lineAt = (index: number) => source.slice(0, index).split('\n').length
  const intoCore = (specifier: string) =>
    specifier.startsWith('.') && inside(CORE, resolve(dirname(path), specifier))
  const out: string[] = []
  for (const m of source.matchAll(NAMED_IMPORT_RE)) {
    if (m[1] !== undefined || !intoCore(m[3]!)) continue
    for (const item of m[2]!.split(',')) {
      const name = item
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)[0]
      if (item.trim().startsWith('type ') || !REDUCERS.includes(name ?? '')) continue
      out.push(`${where}:${lineAt(m.index)} imports ${name}: only the mutators run the reducers`)
    }
  }
  const namespaces = [...source.matchAll(NAMESPACE_IMPORT_RE)]
    .filter((m) => intoCore(m[2]!))
    .map((m) => m[1]!)
  for (const ns of namespaces) {
    for (const m of source.matchAll(new RegExp(`\\b${ns}\\.(${REDUCERS.join('|')})\\s*\\(`, 'g'))) {
      out.push(`${where}:${lineAt(m.index)} calls ${m[1]}: only the mutators run the reducers`)
    }
  }
  for (const m of source.matchAll(CALL_RE)) {
    if (/\bfunction\s+$/.test(source.slice(Math.max(0, m.index - 12), m.index))) continue
    out.push(`${where}:${lineAt(m.index)} calls ${m[1]}: only the mutators run the reducers`)
  }
  return out
}

describe('the shells', () => {
  const files = sourceFiles(SRC).filter((f) => !f.endsWith('.test.ts'))

  test('read time only through the injected clock', () => {
    expect(files.length).toBeGreaterThan(100)
    expect(files.flatMap((f) => clockReadsOf(f, readFileSync(f, 'utf8')))).toEqual([])
  })

  test('leave step, stepRollout and planNext to the two mutators', () => {
    const uses = files.flatMap((f) => reducerUsesOf(f, readFileSync(f, 'utf8')))
    expect(uses).toEqual([])
    // The rule is not vacuous: the mutators do call them.
    const mutatorCalls = files
      .filter((f) => MUTATORS.some((m) => inside(m, f)))
      .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(CALL_RE)].map((m) => m[1]))
    expect(new Set(mutatorCalls)).toEqual(new Set(REDUCERS))
  })

  test('the clock check flags every clock read outside the clock module, and only there', () => {
    const at = join(SRC, 'agent', 'workers', 'x.ts')
    for (const read of [
      'Date.now()',
      'new Date()',
      'Date()',
      'performance.now()',
      'process.hrtime.bigint()',
      'Bun.nanoseconds()',
    ]) {
      expect(clockReadsOf(at, `const t = ${read}`)).toHaveLength(1)
      expect(clockReadsOf(CLOCK_MODULE, `const t = ${read}`)).toEqual([])
    }
    expect(clockReadsOf(at, 'const t = clock.now()')).toEqual([])
    expect(clockReadsOf(at, 'const d = new Date(ms)')).toEqual([])
    expect(clockReadsOf(at, 'const t = setTimeout(f, 10)')).toEqual([])
    expect(clockReadsOf(at, 'const t = Date.now()')).toEqual([
      'src/agent/workers/x.ts:1 reads the clock (Date.now); use the injected Clock',
    ])
  })

  test('the reducer check flags imports and calls outside the mutators, not inside', () => {
    const worker = join(SRC, 'cp', 'workers', 'x.ts')
    expect(reducerUsesOf(worker, "import { planNext } from '../../core/index.ts'")).toEqual([
      'src/cp/workers/x.ts:1 imports planNext: only the mutators run the reducers',
    ])
    expect(
      reducerUsesOf(worker, "import { isClosed, step as s } from '../../core/index.ts'")
    ).toHaveLength(1)
    expect(reducerUsesOf(worker, 'const r = stepRollout(rec, ev, now)')).toHaveLength(1)
    expect(
      reducerUsesOf(worker, "import * as core from '../../core/index.ts'\ncore.step(s, e, 0, p)")
    ).toEqual(['src/cp/workers/x.ts:2 calls step: only the mutators run the reducers'])
    // Types, other names, methods and declarations are not reducer runs.
    expect(reducerUsesOf(worker, "import type { step } from '../../core/index.ts'")).toEqual([])
    expect(
      reducerUsesOf(worker, "import { isClosed, type HostStepResult } from '../../core/index.ts'")
    ).toEqual([])
    expect(reducerUsesOf(worker, 'this.step(1); function step(x) {}; stepHost(ctx)')).toEqual([])
    const agentMutator = join(SRC, 'agent', 'mutator', 'x.ts')
    expect(
      reducerUsesOf(agentMutator, "import { step } from '../../core/index.ts'\nstep(s, e, 0, p)")
    ).toEqual([])
    expect(reducerUsesOf(join(CORE, 'rollout', 'x.ts'), 'stepRollout(r, e, 0)')).toEqual([])
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
