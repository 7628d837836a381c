/**
 * Re-derivation (RFC-0008 §6.1): rollout records follow from their rollout events alone, so the
 * derived rows can always be rebuilt from the canonical event log. Each event is applied at its
 * own time, exactly as the control plane applied it; an event for a rollout never opened, or one
 * the record refuses, changes nothing (the log holds only events that changed a record).
 */
import type { RolloutEvent } from './events.ts'
import { targetRolloutId } from './events.ts'
import type { RolloutRecord } from './state.ts'
import { openRolloutRecord, stepRollout } from './step.ts'

/** The rollout records the events produce, by rollout id, applied in order. */
export function rederiveRollouts(events: Iterable<RolloutEvent>): Map<string, RolloutRecord> {
  const out = new Map<string, RolloutRecord>()
  for (const event of events) {
    if (event.type === 'RolloutOpened') {
      out.set(event.rolloutId, openRolloutRecord(event))
      continue
    }
    const id = targetRolloutId(event)
    const prev = out.get(id)
    if (prev === undefined) continue
    const r = stepRollout(prev, event, event.at)
    if (r.ok) out.set(id, r.record)
  }
  return out
}
