/**
 * Selector matching (protocol §3.1): a selector matches a host if ANY of its rules fires —
 * `all`, the host named in `hosts`, the host's channel equal to `channel`, the host carrying
 * every tag of a non-empty `tags`, or at least one tag of `tagsAny`. An empty selector matches
 * nothing. Pure.
 */
import type { Selector } from '../../proto/common.ts'
import type { Hostname } from '../../proto/ids.ts'

/** The host fields a selector looks at. */
export type SelectableHost = { readonly channel: string; readonly tags: readonly string[] }

/** Whether `selector` matches the host `hostname`. */
export function selectorMatches(
  selector: Selector,
  hostname: Hostname,
  host: SelectableHost
): boolean {
  if (selector.all) return true
  if (selector.hosts.includes(hostname)) return true
  if (selector.channel !== null && selector.channel === host.channel) return true
  if (selector.tags.length > 0 && selector.tags.every((t) => host.tags.includes(t))) return true
  return selector.tagsAny.some((t) => host.tags.includes(t))
}
