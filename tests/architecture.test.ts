/**
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

function coreFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return coreFiles(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

describe('src/core purity', () => {
  test('no core file imports I/O, framework or crypto modules, reads a clock or uses randomness', () => {
    const files = coreFiles(CORE)
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
