/**
 * Gate 9, `closure-availability`: no dispatch of a closure the binary cache does not have, when
 * the control plane checks one (`FleetState.closures`). A host sent a closure it cannot fetch
 * would fail mid-wave at realise; held here, it waits with a sentence that says what to push.
 *
 * Invariants: checked last, so a host also held by a wave, an edge or a budget is named by that
 * reason first (its problem still says the closure is missing); a closure not checked yet holds
 * its host until the first answer; a cache that did not answer (`error`) holds nothing, so an
 * outage of the CP's view of the cache is never worse than not checking.
 */
import type { Gate } from '../context.ts'

/** `1b2c3d4e…-nixos-system-web-01`: the hash shortened, the name kept. */
export function shortClosure(closure: string): string {
  const dash = closure.indexOf('-')
  return dash > 8 ? `${closure.slice(0, 8)}…${closure.slice(dash)}` : closure
}

/** The sentence of a host held because its closure is not in the cache. */
export function closureMissingSentence(host: string, closure: string, cache: string): string {
  return `${host} waits: closure ${shortClosure(closure)} not in ${cache}; push it with nix copy`
}

/** The closure-availability gate. */
export const closureAvailabilityGate: Gate = (ctx, _plan, c) => {
  const closures = ctx.fleetState.closures
  if (closures === undefined) return undefined
  const status = closures.status[c.targetClosure]
  if (status === 'present' || status === 'error') return undefined
  return {
    gate: 'closure-availability',
    reason:
      status === 'missing'
        ? closureMissingSentence(c.hostname, c.targetClosure, closures.cache)
        : `${c.hostname} waits: checking closure ${shortClosure(c.targetClosure)} in ${closures.cache}`,
  }
}
