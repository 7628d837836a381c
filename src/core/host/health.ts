/**
 * The health rules shared by `step` (guarding `*Converged*`) and the agent's tick (deciding
 * when to synthesize a verdict), so both sides judge a host by the same code.
 *
 * Invariants (DECISIONS §3.5, §3.6, §3.8):
 * - Convergence needs: current closure == target; the host's own soak elapsed; no enforce probe
 *   failing; and, when probes were declared, every declared enforce probe passed at least once
 *   since activation (probe records are cleared when activation completes). With no probes
 *   declared, soak alone suffices.
 * - A failure is sustained when one enforce probe has failed without a single pass in between
 *   for at least `policy.sustainedFailureMs` (per-probe `failingSince`, so a recovered probe
 *   that fails again starts a fresh clock).
 */
import type { HostPolicy, HostRolloutState } from './state.ts'

/** The names of the enforce-mode probes whose latest result is a failure, sorted. */
export function failingEnforceProbes(state: HostRolloutState): string[] {
  return Object.keys(state.probes)
    .filter((name) => {
      const p = state.probes[name]
      return p !== undefined && p.mode === 'enforce' && p.status === 'fail'
    })
    .sort()
}

/** The reasons the host may not be declared Converged at `convergedAt` with `currentClosure`. */
export function convergenceViolations(
  state: HostRolloutState,
  convergedAt: number,
  currentClosure: string
): string[] {
  const out: string[] = []
  if (currentClosure !== state.targetClosure) {
    out.push(`current closure ${currentClosure} is not the target ${state.targetClosure}`)
  }
  if (state.soakDueAt !== null && convergedAt < state.soakDueAt) {
    const secs = Math.ceil((state.soakDueAt - convergedAt) / 1000)
    out.push(`soak not elapsed (${secs} s left)`)
  }
  const failing = failingEnforceProbes(state)
  if (failing.length > 0) out.push(`enforce probes failing: ${failing.join(', ')}`)
  const neverPassed = (state.probeTopology ?? [])
    .filter((d) => d.mode === 'enforce' && !(state.probes[d.probeName]?.lastPassAt != null))
    .map((d) => d.probeName)
    .sort()
  if (neverPassed.length > 0) {
    out.push(`enforce probes not yet passed since activation: ${neverPassed.join(', ')}`)
  }
  return out
}

/** The sustained-failure verdict at `now`: the failing probes and the longest run, if crossed. */
export function sustainedFailure(
  state: HostRolloutState,
  now: number,
  policy: HostPolicy
): { readonly failingProbes: string[]; readonly sustainedMs: number } | undefined {
  const failing = failingEnforceProbes(state)
  let longest = -1
  for (const name of failing) {
    const since = state.probes[name]?.failingSince
    if (since != null) longest = Math.max(longest, now - since)
  }
  if (longest < 0 || longest < policy.sustainedFailureMs) return undefined
  return { failingProbes: failing, sustainedMs: longest }
}
