/**
 * Why a host failed, in the words an on-call engineer needs on one log line: the enforce probe
 * that failed (if one did) and its reason, else what went wrong with the activation.
 * Invariant: pure, a function of the host's record.
 */
import { failingEnforceProbes, type HostRolloutState } from '../core/index.ts'

/** The failing probe (or `null`) and a one-sentence reason. */
export function failureSummary(rec: HostRolloutState | undefined): {
  probe: string | null
  reason: string
} {
  if (rec === undefined) return { probe: null, reason: 'host record not in memory' }
  const probe = failingEnforceProbes(rec)[0]
  if (probe !== undefined)
    return {
      probe,
      reason: rec.probes[probe]?.failureReason ?? `enforce probe ${probe} failing`,
    }
  if (rec.activationFailedAt !== null) return { probe: null, reason: 'activation failed' }
  if (rec.phase === 'Reverted') return { probe: null, reason: 'rolled back' }
  return { probe: null, reason: `host ${rec.phase.toLowerCase()}` }
}
