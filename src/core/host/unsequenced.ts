/**
 * Host events before they are numbered. The agent's workers (activation, probes) and its crash
 * recovery describe what happened; only the agent's mutator knows a record's next seq, so they
 * hand the event over without one and the mutator numbers it (`sequenced`). No placeholder seq
 * is ever built.
 */
import type { HostEvent } from './events.ts'

/** `E` without its `seq` (distributes over a union: each event keeps its own fields). */
export type Unsequenced<E extends HostEvent = HostEvent> = E extends HostEvent
  ? Omit<E, 'seq'>
  : never

/** `event` numbered `seq`. */
export function sequenced(event: Unsequenced, seq: number): HostEvent {
  return { ...event, seq }
}
