/**
 * Retention: when a finished rollout may be pruned. Finished means Terminal, Superseded, Cancelled,
 * Failed or Reverted; the clock starts when it became so (superseded, terminal, cancelled, or
 * halted). A resumed
 * Failed/Reverted rollout has no such time and is kept until a newer release supersedes it.
 */
import { isClosed, type RolloutRecord } from './state.ts'

/** The time a rollout finished, or null while it is not finished (or was resumed). */
export function finishedAt(r: RolloutRecord): number | null {
  if (r.phase === 'Cancelled') return r.cancelled?.at ?? null
  const finished =
    r.phase === 'Terminal' ||
    r.phase === 'Superseded' ||
    r.phase === 'Failed' ||
    r.phase === 'Reverted'
  return finished ? (r.supersededAt ?? r.terminalAt ?? r.halt?.at ?? null) : null
}

/** When a rollout was closed (cancelled, terminal or superseded), or null while it is open. */
export function closedAt(r: RolloutRecord): number | null {
  if (!isClosed(r.phase)) return null
  return r.cancelled?.at ?? r.terminalAt ?? r.supersededAt ?? null
}

/** Whether a rollout finished before `cutoff` (now minus the retention), so it may be pruned. */
export function retentionDue(r: RolloutRecord, cutoff: number): boolean {
  const since = finishedAt(r)
  return since !== null && since < cutoff
}
