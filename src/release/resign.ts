/**
 * Re-signing a release (the freshness contract, DECISIONS §3.2): signed artifacts expire, so CI
 * re-signs on a schedule; a re-sign must not ship anything new. The *content* of an artifact is
 * its canonical JSON without `meta.signedAt`: everything else (hosts, closures, pins, policies,
 * `meta.ciCommit`, `meta.signatureAlgorithm`, list entries) must be identical, and the set of
 * artifacts too. Rollout manifests are projections of the fleet, so an unchanged fleet implies
 * unchanged manifests (their `fleetResolvedHash` anchors to the re-signed fleet).
 * Pure: the shell reads the release directory and assembles the re-signed artifacts.
 */
import type { JsonValue } from '../crypto/canonical-json.ts'

type JsonObject = { [k: string]: JsonValue }

const isObject = (x: JsonValue | undefined): x is JsonObject =>
  x !== null && typeof x === 'object' && !Array.isArray(x)

/** The artifact's content: the value without `meta.signedAt`. */
export function contentOf(value: JsonValue): JsonValue {
  if (!isObject(value) || !isObject(value.meta)) return value
  const { signedAt: _signedAt, ...meta } = value.meta
  return { ...value, meta }
}

/** The first path (`hosts.web-01.pin`) where two JSON values differ, or undefined. */
export function firstDifference(a: JsonValue, b: JsonValue, path = ''): string | undefined {
  const here = path === '' ? '(root)' : path
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return here
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i]!, b[i]!, `${path}[${i}]`)
      if (d !== undefined) return d
    }
    return undefined
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    for (const k of keys) {
      const p = path === '' ? k : `${path}.${k}`
      if (!Object.hasOwn(a, k) || !Object.hasOwn(b, k)) return p
      const d = firstDifference(a[k]!, b[k]!, p)
      if (d !== undefined) return d
    }
    return undefined
  }
  return a === b ? undefined : here
}

/**
 * Why a re-sign would change content, or undefined when it would not: `released` and `resigned`
 * map each top-level artifact (`fleet.resolved.json`, `revocations.json`,
 * `bootstrap-nonces.json`) to its parsed JSON.
 */
export function resignChange(
  released: ReadonlyMap<string, JsonValue>,
  resigned: ReadonlyMap<string, JsonValue>
): string | undefined {
  for (const path of [...new Set([...released.keys(), ...resigned.keys()])].sort()) {
    const before = released.get(path)
    const after = resigned.get(path)
    if (before === undefined) return `${path} is not in the released directory`
    if (after === undefined) return `${path} would no longer be released`
    const d = firstDifference(contentOf(before), contentOf(after))
    if (d !== undefined) return `${path} changed at ${d}`
  }
  return undefined
}
