/**
 * The effects an agent replays for a record rebuilt from a CP snapshot after a restart (spec
 * §1.10): the probe worker must restart for every record past Pending; a Pending record waits
 * for its dispatch and needs nothing.
 */
import type { HostEffect } from './effects.ts'
import type { HostRolloutState } from './state.ts'

/** The rehydration effects for `state`. */
export function rehydrationEffects(state: HostRolloutState): HostEffect[] {
  if (state.phase === 'Pending') return []
  return [{ type: 'LocalResetProbeCache', rolloutId: state.rolloutId }]
}
