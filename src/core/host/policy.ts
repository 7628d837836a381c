/**
 * Resolution of a host's `HostPolicy` from the signed fleet, so the agent and the CP mirror
 * derive the same soak and failure policy from the same bytes.
 *
 * Invariants:
 * - Soak: `rolloutPolicies[channel.rolloutPolicy].waves[waveIndex].soakMinutes`, else the
 *   resolved `fleet.waves[channel][waveIndex].soakMinutes`, else 0 for an `all-at-once` policy
 *   without waves (the reference's synthetic wave), else 60 minutes (`DEFAULT_SOAK_MINUTES`);
 *   `waveIndex` is the manifest's `hostSet[].waveIndex`.
 * - Sustained-failure threshold: `healthGate.sustainedFailureSecs` when it is a positive number,
 *   else 60 s (DECISIONS §3.8, the RFC value; the reference hard-codes 120 s).
 * - Deferred counts as done only with `healthGate.deferredCountsAsDone: true` (planner gates).
 * - No channel or no policy ⇒ `undefined`: the caller drops the event, as the reference does.
 */
import type { FleetView } from '../types.ts'
import type { HostPolicy } from './state.ts'

/** The default soak when neither the policy nor the resolved waves name one (minutes). */
export const DEFAULT_SOAK_MINUTES = 60

/** The default sustained-failure threshold (ms), the RFC's 60 s. */
export const DEFAULT_SUSTAINED_FAILURE_MS = 60_000

const MINUTE_MS = 60_000

/** The sustained-failure threshold a health gate asks for, in ms. */
export function sustainedFailureMsOf(healthGate: unknown): number {
  if (
    typeof healthGate === 'object' &&
    healthGate !== null &&
    'sustainedFailureSecs' in healthGate
  ) {
    const secs = healthGate.sustainedFailureSecs
    if (typeof secs === 'number' && Number.isFinite(secs) && secs > 0) return secs * 1000
  }
  return DEFAULT_SUSTAINED_FAILURE_MS
}

/**
 * Whether a health gate lets a Deferred host (staged for the next boot, not running its target)
 * count as done for promotion and edges: only an explicit `deferredCountsAsDone: true` does.
 */
export function deferredCountsAsDoneOf(healthGate: unknown): boolean {
  return (
    typeof healthGate === 'object' &&
    healthGate !== null &&
    'deferredCountsAsDone' in healthGate &&
    healthGate.deferredCountsAsDone === true
  )
}

/** The policy for a host of `channel` in wave `waveIndex`, or `undefined` if none is declared. */
export function resolveHostPolicy(
  fleet: FleetView,
  channel: string,
  waveIndex: number
): HostPolicy | undefined {
  const policyName = fleet.channels[channel]?.rolloutPolicy
  if (policyName === undefined) return undefined
  const policy = fleet.rolloutPolicies[policyName]
  if (policy === undefined) return undefined
  const soakMinutes =
    policy.waves[waveIndex]?.soakMinutes ??
    fleet.waves[channel]?.[waveIndex]?.soakMinutes ??
    (policy.strategy === 'all-at-once' && policy.waves.length === 0 ? 0 : DEFAULT_SOAK_MINUTES)
  return {
    onHealthFailure: policy.onHealthFailure,
    soakMs: soakMinutes * MINUTE_MS,
    sustainedFailureMs: sustainedFailureMsOf(policy.healthGate),
  }
}
