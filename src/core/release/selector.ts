/**
 * Selector matching, with mkFleet's semantics (nix/lib/mk-fleet.nix `matches`), by precedence:
 * - `not` set: the host matches when it does not match `not` (the other fields are ignored);
 * - else `and` non-empty: the host matches when it matches every selector in it;
 * - else (protocol §3.1) when ANY rule fires — `all`, the host named in `hosts`, the host's
 *   channel equal to `channel`, the host carrying every tag of a non-empty `tags`, or at least
 *   one tag of `tagsAny`. An empty selector matches nothing.
 * The reference drops `and`/`not` here; honouring them is what makes a budget or wave written
 * with them cover the hosts mkFleet resolved. Absent fields mean their defaults. Recursion is
 * bounded by the schema's nesting limit. Pure.
 */
import type { Selector } from '../types.ts'

/** The host fields a selector looks at. */
export type SelectableHost = { readonly channel: string; readonly tags: readonly string[] }

/** Whether `selector` matches the host `hostname`. */
export function selectorMatches(
  selector: Selector,
  hostname: string,
  host: SelectableHost
): boolean {
  if (selector.not != null) return !selectorMatches(selector.not, hostname, host)
  if (selector.and !== undefined && selector.and.length > 0) {
    return selector.and.every((s) => selectorMatches(s, hostname, host))
  }
  if (selector.all === true) return true
  if (selector.hosts?.includes(hostname) === true) return true
  if (selector.channel != null && selector.channel === host.channel) return true
  const tags = selector.tags ?? []
  if (tags.length > 0 && tags.every((t) => host.tags.includes(t))) return true
  return (selector.tagsAny ?? []).some((t) => host.tags.includes(t))
}
