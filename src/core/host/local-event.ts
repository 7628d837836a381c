/**
 * The agent-side (`Local*`) host event an outbound wire event was emitted by: the inverse of
 * `toOutbound` for the agent's own events, derived from `WIRE_KIND` like `remoteEventOf`, so
 * there is still one mapping between wire kinds and host events. The agent uses it to replay
 * events it queued but had not yet recorded when it stopped.
 */
import {
  HOST_EVENT_TYPES,
  WIRE_KIND,
  type HostEvent,
  type HostEventType,
  type OutboundAgentEvent,
  type OutboundKind,
} from './events.ts'

/** The agent-side event type of each wire kind: the inverse of `WIRE_KIND`'s Local half. */
const LOCAL_TYPE = Object.fromEntries(
  HOST_EVENT_TYPES.filter((t) => t.startsWith('Local')).map((t) => [WIRE_KIND[t], t])
) as { readonly [K in OutboundKind]: HostEventType }

/**
 * The `Local*` event carrying `event`'s payload. `targetClosure` is the record's target: the
 * wire DispatchAck omits it (the CP knows its record's target) but `LocalActivate` names it.
 */
export function localEventOf(event: OutboundAgentEvent, targetClosure: string): HostEvent {
  if (event.kind === 'DispatchAck') {
    const { currentClosureAtDispatch, receivedAt, seq } = event
    return { type: 'LocalActivate', seq, currentClosureAtDispatch, receivedAt, targetClosure }
  }
  const { kind, ...rest } = event
  return { type: LOCAL_TYPE[kind], ...rest } as HostEvent
}
