/**
 * Conversion between the core's outbound agent event (epoch ms) and the wire event of
 * `POST /v1/agent/events` (RFC 3339). Both the agent (sending) and the control plane
 * (receiving) use it, so the two directions cannot drift apart.
 */
import type { OutboundAgentEvent } from '../core/host/events.ts'
import { parseRfc3339Ms, toRfc3339 } from '../proto/common.ts'
import type { WireAgentEvent } from '../proto/agent.ts'

// The time-valued fields of the agent events; every other field passes through unchanged.
const TIME_FIELDS = [
  'receivedAt',
  'startedAt',
  'completedAt',
  'failedAt',
  'deferredAt',
  'declaredAt',
  'observedAt',
  'firstFailedAt',
  'convergedAt',
] as const

/** The wire form of an outbound event. */
export function outboundToWire(event: OutboundAgentEvent): WireAgentEvent {
  const out: Record<string, unknown> = { ...event }
  for (const f of TIME_FIELDS) {
    if (typeof out[f] === 'number') out[f] = toRfc3339(out[f] as number)
  }
  return out as WireAgentEvent
}

/** The core form of a validated wire event. */
export function wireToOutbound(event: WireAgentEvent): OutboundAgentEvent {
  const out: Record<string, unknown> = { ...event }
  for (const f of TIME_FIELDS) {
    if (typeof out[f] === 'string') out[f] = parseRfc3339Ms(out[f] as string)
  }
  return out as OutboundAgentEvent
}
