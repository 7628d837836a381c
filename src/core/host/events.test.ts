import { describe, expect, test } from 'bun:test'
import {
  HOST_EVENT_TYPES,
  isLocal,
  remoteEventOf,
  toOutbound,
  WIRE_KIND,
  type OutboundAgentEvent,
} from './events.ts'

describe('the one mapping between host events and wire kinds', () => {
  const kinds = [...new Set(Object.values(WIRE_KIND))]

  test('there are 12 wire kinds, each carried by one Local and one Remote event', () => {
    expect(kinds).toHaveLength(12)
    for (const kind of kinds) {
      const types = HOST_EVENT_TYPES.filter((t) => WIRE_KIND[t] === kind)
      expect(types.filter((t) => t.startsWith('Local'))).toHaveLength(1)
      expect(types.filter((t) => t.startsWith('Remote'))).toHaveLength(1)
    }
  })

  test('remoteEventOf gives the Remote event of every kind, and toOutbound inverts it', () => {
    for (const kind of kinds) {
      const wire = { kind, seq: 7, extra: 'payload' } as unknown as OutboundAgentEvent
      const event = remoteEventOf(wire)
      expect(isLocal(event)).toBe(false)
      expect(WIRE_KIND[event.type]).toBe(kind)
      expect(toOutbound(event)).toEqual(wire)
    }
  })
})
