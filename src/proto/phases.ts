/**
 * The seven host states of a rollout record (spec §1.1) and the nine rollout states: the one
 * list of each that the wire picklists, the database's `state` enums and core's types derive
 * from, so they can never disagree. Strings are identical on the wire and in the database.
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

/**
 * The rollout states in table order (spec §2.1), for the database enum and the operator API;
 * `Cancelled` (an operator closed the rollout) is NixFleet's.
 */
export const ROLLOUT_PHASES = [
  'Opening',
  'Active',
  'Converging',
  'Terminal',
  'Reverted',
  'Failed',
  'Superseded',
  'Pruned',
  'Cancelled',
] as const

/** One rollout state. */
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number]
