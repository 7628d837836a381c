/**
 * Selector identity and display for disruption budgets. Budgets of different rollouts are the
 * same budget when their selectors are equal (spec §3.4), so the key must be stable across
 * separately parsed manifests; the summary is what an operator sees in a gate reason.
 */
import { stableJson } from '../lib/stable-json.ts'
import type { Selector } from '../types.ts'

/** The identity key of a selector (field order and absent-vs-default insensitive). */
export function selectorKey(selector: Selector): string {
  return stableJson({
    all: selector.all ?? false,
    channel: selector.channel ?? null,
    hosts: selector.hosts ?? [],
    tags: selector.tags ?? [],
    tagsAny: selector.tagsAny ?? [],
  })
}

const MAX_LISTED = 3

function listed(prefix: string, items: readonly string[]): string {
  const sorted = [...items].sort()
  const shown = sorted.slice(0, MAX_LISTED).join(',')
  const more = sorted.length > MAX_LISTED ? `,+${sorted.length - MAX_LISTED}` : ''
  return `${prefix}:${shown}${more}`
}

/** The short display of a selector: `all` > `channel:x` > `tags:a,b` > `tags_any:` > `hosts:`. */
export function selectorSummary(selector: Selector): string {
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
