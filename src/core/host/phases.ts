/**
 * Named predicates over host phases, so every layer asks the same question the same way instead
 * of keeping its own set of phase strings. The sets differ on purpose:
 * - in flight (Activating, Soaking): what a disruption budget counts;
 * - underway (Activating, Deferred, Soaking): the host has taken the dispatch and not finished;
 * - unfinished (Pending or underway): the rollout still expects something of the host;
 * - settled (Converged, Reverted): the agent has nothing more to do for the record.
 */
import type { HostPhase } from './state.ts'

/** The phases a disruption budget counts (Pending is queued, Deferred waits for a reboot). */
export function isInFlight(phase: HostPhase): boolean {
  return phase === 'Activating' || phase === 'Soaking'
}

/** The phases in which the host has taken its dispatch and not finished it. */
export const UNDERWAY_PHASES: readonly HostPhase[] = ['Activating', 'Deferred', 'Soaking']

/** Whether the host has taken its dispatch and not finished it. */
export function isUnderway(phase: HostPhase): boolean {
  return phase === 'Activating' || phase === 'Deferred' || phase === 'Soaking'
}

/** Whether the rollout still expects something of the host (Pending or underway). */
export function isUnfinished(phase: HostPhase): boolean {
  return phase === 'Pending' || isUnderway(phase)
}

/** Whether the agent has nothing more to do for the record (converged, or rolled back). */
export function isSettled(phase: HostPhase): boolean {
  return phase === 'Converged' || phase === 'Reverted'
}
