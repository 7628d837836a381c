/**
 * The seven host states of a rollout record (spec §1.1): the one list the wire snapshot's
 * picklist, the database's `state` enum and core's `HostPhase` all derive from, so the three can
 * never disagree. Strings are identical on the wire and in the database.
 */

/** The host states in table order. */
export const HOST_PHASES = [
  'Pending',
  'Activating',
  'Deferred',
  'Soaking',
  'Converged',
  'Failed',
  'Reverted',
] as const

/** One host state. */
export type HostPhase = (typeof HOST_PHASES)[number]
