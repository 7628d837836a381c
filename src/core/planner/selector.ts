/**
 * Selector identity and display for disruption budgets. Budgets of different rollouts are the
 * same budget when their selectors are equal (spec §3.4), so the key must be stable across
 * separately parsed manifests; the summary is what an operator sees in a gate reason.
 */
import { stableJson } from '../lib/stable-json.ts'
import type { Selector } from '../types.ts'

// The selector with defaults filled in, and `and`/`not` kept only when they say something, so
// a selector without them keeps the key it had before they existed (and `[]`/`null`/absent agree).
function canonical(selector: Selector): Record<string, unknown> {
  const out: Record<string, unknown> = {
    all: selector.all ?? false,
    channel: selector.channel ?? null,
    hosts: selector.hosts ?? [],
    tags: selector.tags ?? [],
    tagsAny: selector.tagsAny ?? [],
  }
  if (selector.and !== undefined && selector.and.length > 0) out.and = selector.and.map(canonical)
  if (selector.not != null) out.not = canonical(selector.not)
  return out
}

/** The identity key of a selector (field order and absent-vs-default insensitive, at every depth). */
export function selectorKey(selector: Selector): string {
  return stableJson(canonical(selector))
}

const MAX_LISTED = 3

function listed(prefix: string, items: readonly string[]): string {
  const sorted = [...items].sort()
  const shown = sorted.slice(0, MAX_LISTED).join(',')
  const more = sorted.length > MAX_LISTED ? `,+${sorted.length - MAX_LISTED}` : ''
  return `${prefix}:${shown}${more}`
}

/**
 * The short display of a selector, in the order matching reads it: `not(…)` > `and(…,…)` >
 * `all` > `channel:x` > `tags:a,b` > `tags_any:` > `hosts:` (the last five as the reference's).
 */
export function selectorSummary(selector: Selector): string {
  if (selector.not != null) return `not(${selectorSummary(selector.not)})`
  if (selector.and !== undefined && selector.and.length > 0) {
    const shown = selector.and.slice(0, MAX_LISTED).map(selectorSummary).join(',')
    const more = selector.and.length > MAX_LISTED ? `,+${selector.and.length - MAX_LISTED}` : ''
    return `and(${shown}${more})`
  }
  if (selector.all === true) return 'all'
  if (selector.channel != null) return `channel:${selector.channel}`
  if (selector.tags !== undefined && selector.tags.length > 0) return listed('tags', selector.tags)
  if (selector.tagsAny !== undefined && selector.tagsAny.length > 0) {
    return listed('tags_any', selector.tagsAny)
  }
  if (selector.hosts !== undefined && selector.hosts.length > 0) {
    return listed('hosts', selector.hosts)
  }
  return 'unknown'
}
