/**
 * Building blocks shared by every signed artifact: integers, RFC 3339 timestamps, `meta`,
 * selectors and health gates (protocol §3.1, `fleet_resolved.rs`).
 *
 * Invariants (do not change without a protocol update):
 * - Wire objects use `v.object`: unknown keys are dropped, never rejected, because the protocol
 *   grows by adding fields and signatures cover the received bytes, not the parsed value.
 * - A reference `Option<T>` field accepts both `null` and absence (serde treats a missing `Option`
 *   as `None`); fields the reference serializes as `null` parse to `null` here, fields it omits
 *   when absent (`signatureAlgorithm`, health-gate members, `pin`) stay optional.
 * - Nothing here checks `schemaVersion == 1`: the verifier does, so it can report
 *   `SchemaVersionUnsupported` instead of a generic parse error (protocol §3.7 step 4).
 */
import * as v from 'valibot'
import { type ChannelName, ChannelNameSchema, type Hostname, HostnameSchema } from './ids.ts'

const U32_MAX = 4_294_967_295

/** The schema of a reference `u32`: a non-negative integer that fits 32 bits. */
export const U32Schema = v.pipe(
  v.number(),
  v.integer('expected an integer'),
  v.minValue(0, 'expected a non-negative integer'),
  v.maxValue(U32_MAX, 'expected an integer below 2^32')
)

// RFC 3339 §5.6 date-time. 'T'/'Z' may be lowercase (§5.6 note); any number of fraction digits
// (chrono emits 0, 3, 6 or 9). Leap second 60 is refused: it has no epoch-millisecond value.
const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
      ? 29
      : 28
    : [4, 6, 9, 11].includes(month)
      ? 30
      : 31

/** The epoch milliseconds of an RFC 3339 date-time, or NaN when `s` is not one. */
export function parseRfc3339Ms(s: string): number {
  const m = RFC3339_RE.exec(s)
  if (!m) return Number.NaN
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const offH = m[9] === undefined ? 0 : Number(m[9])
  const offM = m[10] === undefined ? 0 : Number(m[10])
  // Checked by hand: Date.parse in Bun silently rolls Feb 30 over to March and accepts 24:00.
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return Number.NaN
  if (h > 23 || mi > 59 || sec > 59 || offH > 23 || offM > 59) return Number.NaN
  // Milliseconds only: the protocol compares at second granularity, sub-ms digits are dropped.
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'))
  const offsetMin = (m[8] === '-' ? -1 : 1) * (offH * 60 + offM)
  // Date.UTC maps years 0-99 to 1900-1999; shift by 400 Gregorian years (exactly 146097 days).
  const utc =
    y < 100
      ? Date.UTC(y + 400, mo - 1, d, h, mi, sec, ms) - 146_097 * 86_400_000
      : Date.UTC(y, mo - 1, d, h, mi, sec, ms)
  return utc - offsetMin * 60_000
}

/**
 * The RFC 3339 UTC form of epoch `ms`: with milliseconds (`2026-01-02T03:04:05.678Z`, the
 * program's and the database's form), or truncated to whole seconds without a fraction
 * (`2026-01-02T03:04:05Z`, the form signed artifacts and tokens carry, chrono-compatible).
 */
export function toRfc3339(
  ms: number,
  precision: 'milliseconds' | 'seconds' = 'milliseconds'
): string {
  if (precision === 'milliseconds') return new Date(ms).toISOString()
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

/** The schema of an RFC 3339 date-time with 'Z' or a numeric offset; kept as the wire string. */
export const Rfc3339Schema = v.pipe(
  v.string(),
  v.check((s) => !Number.isNaN(parseRfc3339Ms(s)), 'expected an RFC 3339 date-time')
)
/** The RFC 3339 date-time string. */
export type Rfc3339 = v.InferOutput<typeof Rfc3339Schema>

/** The schema of `meta`, shared by every CI-signed artifact. */
export const MetaSchema = v.object({
  schemaVersion: U32Schema,
  // null until CI stamps the artifact; the verifier reports NotSigned for it (§3.7 step 5).
  signedAt: v.nullish(Rfc3339Schema, null),
  // Free-form: the manifest's channelRef copies it and may be "" (see manifest.ts).
  ciCommit: v.nullish(v.string(), null),
  // Omitted when absent (≡ "ed25519"); informational, the trust key decides the algorithm.
  signatureAlgorithm: v.nullish(v.string()),
})
/** The signing metadata of an artifact. */
export type Meta = v.InferOutput<typeof MetaSchema>

/** How deep `and`/`not` may nest selectors: the top-level selector is depth 1. */
export const MAX_SELECTOR_DEPTH = 16

/**
 * The host selector. It matches a host when, by precedence: `not` is set and the host does not
 * match it; else `and` is non-empty and the host matches every selector in it; else any of the
 * other rules fires (all / host in `hosts` / channel equal / every tag of `tags` / a tag of
 * `tagsAny`). `and`/`not` are absent from the reference's wire selector (it drops them); absent
 * means `[]` / `null`.
 */
export type Selector = {
  tags: string[]
  tagsAny: string[]
  hosts: Hostname[]
  channel: ChannelName | null
  all: boolean
  and?: Selector[] | undefined
  not?: Selector | null | undefined
}

const TOO_DEEP = `selectors nest deeper than ${MAX_SELECTOR_DEPTH} levels (and/not)`

// One level of the selector schema; `inner` parses its `and`/`not` members, and at the deepest
// level (no `inner`) only the empty forms are accepted. Built bottom-up rather than with
// `v.lazy`, so the depth bound is part of the schema and a hostile artifact cannot recurse.
function selectorLevel(inner: v.GenericSchema<unknown, Selector> | undefined) {
  return v.object({
    tags: v.optional(v.array(v.string()), () => []),
    tagsAny: v.optional(v.array(v.string()), () => []),
    hosts: v.optional(v.array(HostnameSchema), () => []),
    channel: v.nullish(ChannelNameSchema, null),
    all: v.optional(v.boolean(), false),
    and: v.optional(v.array(inner ?? v.never(TOO_DEEP))),
    not: v.nullish(inner ?? v.never(TOO_DEEP)),
  })
}

/**
 * The schema of a selector. Every field defaults when absent, like the reference's
 * `#[serde(default)]` on each of them: [] for the lists, null for channel, false for all;
 * `and`/`not` (mkFleet's combinators, a NixFleet addition on the wire) stay absent when absent.
 * Nesting deeper than `MAX_SELECTOR_DEPTH` is refused at the member that goes too deep.
 */
export const SelectorSchema: v.GenericSchema<unknown, Selector> = (() => {
  let schema: v.GenericSchema<unknown, Selector> = selectorLevel(undefined)
  for (let depth = 1; depth < MAX_SELECTOR_DEPTH; depth++) schema = selectorLevel(schema)
  return schema
})()

/** The schema of a health gate; members are omitted when absent, so `{}` is the empty gate. */
export const HealthGateSchema = v.object({
  systemdFailedUnits: v.nullish(v.object({ max: U32Schema })),
  // Older artifacts only; tolerated so they still parse.
  complianceProbes: v.nullish(v.object({ required: v.boolean() })),
  // NixFleet addition (DECISIONS §3.8): seconds an enforce probe may fail before the host is
  // Failed; absent means 60 s. Additive, so reference consumers ignore it.
  sustainedFailureSecs: v.nullish(U32Schema),
  // NixFleet addition: whether a Deferred host (switch staged for the next boot, the new system
  // not running yet) counts as done for wave promotion, host edges and channel edges. Absent
  // means false: a wave is done when its hosts run the new system (docs/decisions.md).
  deferredCountsAsDone: v.nullish(v.boolean()),
})
/** The health gate of a rollout policy. */
export type HealthGate = v.InferOutput<typeof HealthGateSchema>
