/**
 * The check `nixfleet release` runs before it signs and `nixfleet fleet check` runs alone: a
 * fleet.resolved, from Nix or written by hand, is held to mkFleet's rules (nix/lib/mk-fleet.nix),
 * so a fleet that passes one passes the other. Two stages, as in mkFleet: first every key and
 * type (unknown keys at any level refused with a "did you mean"), then, if those hold, the
 * invariants of core/release/fleet-rules.ts. Every problem of a stage is reported at once, each
 * naming its path (`channels.stable.rolloutPolicy`, `disruptionBudgets[0].selector.tagz`).
 *
 * Invariants:
 * - The keys and types allowed are read from the wire schemas (proto/fleet.ts, proto/common.ts),
 *   so the two cannot drift. The wire drops unknown keys (forward compatibility for the control
 *   plane and agents); only this check, at signing time, refuses them.
 * - Where mkFleet is stricter than the wire (a rollout strategy, a compliance mode) or a fleet may
 *   leave something to `release` (`meta`, `schemaVersion`), OVERRIDES says so, per object schema.
 * - The object-level rules of the wire (one of `system`/`platform`, of `gates`/`before`, …) are
 *   not run here but in fleet-rules.ts, with mkFleet's wording; `release` parses the wire schema
 *   afterwards as before, so nothing the wire refuses is signed.
 * - Stricter than mkFleet in one place: mkFleet keeps a policy's `healthGate` verbatim, this
 *   check knows its members, because a misspelt gate is silently no gate at all.
 * Pure: no I/O.
 */
import * as v from 'valibot'
import { type CheckedFleet, fleetViolations } from '../core/release/fleet-rules.ts'
import { MetaSchema } from '../proto/common.ts'
import {
  ChannelComplianceSchema,
  FleetResolvedSchema,
  RolloutPolicySchema,
} from '../proto/fleet.ts'
import { suggest } from '../lib/suggest.ts'

type AnySchema = v.GenericSchema<unknown, unknown>
type Entries = Readonly<Record<string, AnySchema>>

/** The public members of the valibot schemas the walk descends into (by `type`). */
type Node = AnySchema & {
  readonly entries?: Entries
  readonly wrapped?: AnySchema
  readonly item?: AnySchema
  readonly key?: AnySchema
  readonly value?: AnySchema
  readonly getter?: (input: unknown) => AnySchema
}

/**
 * Fields this check reads more strictly or more loosely than the wire, per object schema: a
 * fleet need not carry what `release` stamps; mkFleet knows three strategies and three
 * compliance modes where the wire takes any string.
 */
const OVERRIDES = new Map<AnySchema, Entries>([
  [FleetResolvedSchema, { schemaVersion: v.optional(v.literal(1)), meta: v.optional(MetaSchema) }],
  [RolloutPolicySchema, { strategy: v.picklist(['canary', 'all-at-once', 'staged']) }],
  [ChannelComplianceSchema, { mode: v.picklist(['disabled', 'permissive', 'enforce']) }],
])

const OPTIONAL = new Set(['optional', 'exact_optional', 'undefinedable', 'nullish'])
const OBJECT = new Set(['object', 'loose_object', 'strict_object', 'object_with_rest'])

type JsonObject = Record<string, unknown>
const isObject = (x: unknown): x is JsonObject =>
  x !== null && typeof x === 'object' && !Array.isArray(x)

// A key as Nix source spells an attribute name, as mkFleet's messages do: `hosts."web.01"`.
const KEYWORDS = ['assert', 'else', 'if', 'in', 'inherit', 'let', 'or', 'rec', 'then', 'with']
const nixName = (key: string): string =>
  /^[a-zA-Z_][a-zA-Z0-9_'-]*$/.test(key) && !KEYWORDS.includes(key) ? key : JSON.stringify(key)
const at = (path: string, key: string): string =>
  path === '' ? nixName(key) : `${path}.${nixName(key)}`
const where = (path: string): string => (path === '' ? '' : `${path}: `)

/** A value, briefly, for "expected X, got Y" (mkFleet's `describe`). */
function describe(x: unknown): string {
  if (typeof x === 'string') {
    const s = JSON.stringify(x)
    return `the string ${s.length > 60 ? `${s.slice(0, 57)}...` : s}`
  }
  if (typeof x === 'number') return `the number ${x}`
  if (typeof x === 'boolean') return `the boolean ${x}`
  if (x === null) return 'null'
  return Array.isArray(x) ? 'a list' : 'an object'
}

const WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'a boolean',
  Array: 'a list',
  Object: 'an object',
}

/** The message of a failed leaf: ours as written, valibot's own rebuilt in mkFleet's words. */
function leafMessage(issue: v.BaseIssue<unknown>, value: unknown): string {
  let expected = issue.message
  if (expected.startsWith('Invalid ')) {
    // A picklist expects `("a" | "b")`.
    const e = (issue.expected ?? '').replace(/^\((.*)\)$/, '$1')
    expected = `expected ${WORDS[e] ?? (e.includes(' | ') ? `one of ${e.split(' | ').join(', ')}` : e)}`
  }
  return `${expected}, got ${describe(value)}`
}

/**
 * `value` checked against `schema` at `path`: every problem pushed onto `out`, the value
 * returned with the schema's defaults filled in.
 */
function walk(schema: AnySchema, value: unknown, path: string, out: string[]): unknown {
  const node = schema as Node
  if (OPTIONAL.has(node.type) && value === undefined) return v.getDefault(schema)
  if ((node.type === 'nullish' || node.type === 'nullable') && value === null) {
    return v.getDefault(schema) ?? null
  }
  if (node.wrapped !== undefined) return walk(node.wrapped, value, path, out)
  if (node.getter !== undefined) return walk(node.getter(value), value, path, out)
  if (node.type === 'array' && node.item !== undefined) {
    if (!Array.isArray(value)) {
      out.push(`${where(path)}expected a list, got ${describe(value)}`)
      return value
    }
    return value.map((x, i) => walk(node.item!, x, `${path}[${i}]`, out))
  }
  if (node.type === 'record' && node.key !== undefined && node.value !== undefined) {
    if (!isObject(value)) {
      out.push(`${where(path)}expected an object, got ${describe(value)}`)
      return value
    }
    const result: JsonObject = {}
    for (const [k, x] of Object.entries(value)) {
      const name = v.safeParse(node.key, k)
      if (!name.success) out.push(`${at(path, k)}: not a valid name: ${name.issues[0].message}`)
      result[k] = walk(node.value, x, at(path, k), out)
    }
    return result
  }
  if (OBJECT.has(node.type) && node.entries !== undefined) {
    return walkObject(schema, node.entries, value, path, out)
  }
  const leaf = v.safeParse(schema, value)
  if (leaf.success) return leaf.output
  out.push(`${where(path)}${leafMessage(leaf.issues[0], value)}`)
  return value
}

function walkObject(
  schema: AnySchema,
  own: Entries,
  value: unknown,
  path: string,
  out: string[]
): unknown {
  if (!isObject(value)) {
    out.push(`${where(path)}expected an object, got ${describe(value)}`)
    return value
  }
  const entries: Entries = { ...own, ...OVERRIDES.get(schema) }
  const known = Object.keys(entries).sort()
  for (const k of Object.keys(value)) {
    if (Object.hasOwn(entries, k)) continue
    const guess = suggest(k, known)
    out.push(
      `${at(path, k)}: no such key ${guess ? `(did you mean ${guess}?)` : `(the keys here are: ${known.join(', ')})`}`
    )
  }
  const result: JsonObject = {}
  for (const [k, entry] of Object.entries(entries)) {
    if (!Object.hasOwn(value, k)) {
      if (!OPTIONAL.has(entry.type)) out.push(`${at(path, k)}: required, but not set`)
      else {
        const d = v.getDefault(entry)
        if (d !== undefined) result[k] = d
      }
      continue
    }
    const x = walk(entry, value[k], at(path, k), out)
    if (x !== undefined) result[k] = x
  }
  return result
}

/** The outcome of checking a fleet: the checked fleet, or every problem of the failing stage. */
export type FleetCheck =
  | { readonly ok: true; readonly fleet: CheckedFleet }
  | { readonly ok: false; readonly title: string; readonly violations: readonly string[] }

/** Checks a raw fleet.resolved (parsed JSON) against mkFleet's rules. */
export function checkFleet(raw: unknown): FleetCheck {
  const problems: string[] = []
  const value = walk(FleetResolvedSchema, raw, '', problems)
  if (problems.length > 0) {
    return { ok: false, title: 'invalid fleet definition', violations: problems }
  }
  // The walk above checked every key and type CheckedFleet declares, against the same schemas.
  const fleet = value as CheckedFleet
  const violations = fleetViolations(fleet)
  if (violations.length > 0) {
    return { ok: false, title: 'fleet invariant violations', violations }
  }
  return { ok: true, fleet }
}

/** A failed check as text: one line for one problem, else the title and one line for each. */
export function formatFleetProblems(check: {
  readonly title: string
  readonly violations: readonly string[]
}): string {
  if (check.violations.length === 1) return check.violations[0]!
  return `${check.title}:\n${check.violations.map((p) => `  - ${p}`).join('\n')}`
}
