import { expect, test } from 'bun:test'
import { isLocal, toOutbound, WIRE_KIND, type OutboundAgentEvent } from './events.ts'
import { localEventOf } from './local-event.ts'

test('localEventOf gives the Local event of every kind, and toOutbound inverts it', () => {
  for (const kind of new Set(Object.values(WIRE_KIND))) {
    if (kind === 'DispatchAck') continue
    const wire = { kind, seq: 7, extra: 'payload' } as unknown as OutboundAgentEvent
    const event = localEventOf(wire, 'target')
    expect(isLocal(event)).toBe(true)
    expect(WIRE_KIND[event.type]).toBe(kind)
    expect(toOutbound(event)).toEqual(wire)
  }
})

test('a DispatchAck becomes LocalActivate naming the record target', () => {
  const wire: OutboundAgentEvent = {
    kind: 'DispatchAck',
    seq: 1,
    currentClosureAtDispatch: 'prior',
    receivedAt: 2,
  }
  const event = localEventOf(wire, 'target')
  expect(event).toEqual({
    type: 'LocalActivate',
    seq: 1,
    currentClosureAtDispatch: 'prior',
    receivedAt: 2,
    targetClosure: 'target',
  })
  expect(toOutbound(event)).toEqual(wire)
})

test('a sustained failure maps to LocalSustainedFailureCrossed with its payload', () => {
  expect(
    localEventOf(
      {
        kind: 'Failed',
        seq: 3,
        failedAt: 1,
        sustainedDurationSecs: 60,
        failingProbes: ['p'],
        policyApplied: 'halt',
      },
      'target'
    )
  ).toEqual({
    type: 'LocalSustainedFailureCrossed',
    seq: 3,
    failedAt: 1,
    sustainedDurationSecs: 60,
    failingProbes: ['p'],
    policyApplied: 'halt',
  })
})
