/** CN conventions: agent/operator naming, machine-id extraction and roles. */
import { describe, expect, test } from 'bun:test'
import {
  agentCommonName,
  machineIdFromCn,
  operatorCommonName,
  operatorRoleCommonName,
  roleOfCn,
} from './identity.ts'

const SUFFIX = 'fleet.lab.internal'

describe('agentCommonName / operatorCommonName', () => {
  test('build the reference shapes', () => {
    expect(agentCommonName('web-1', SUFFIX)).toBe('agent-web-1.fleet.lab.internal')
    expect(operatorCommonName('alice@laptop')).toBe('operator-alice@laptop')
  })
})

describe('machineIdFromCn', () => {
  test('strips prefix and suffix when both match', () => {
    expect(machineIdFromCn('agent-web-1.fleet.lab.internal', SUFFIX)).toBe('web-1')
    expect(machineIdFromCn(agentCommonName('db', SUFFIX), SUFFIX)).toBe('db')
  })

  test('returns the CN unchanged otherwise (legacy bare hostnames pass through)', () => {
    expect(machineIdFromCn('web-1', SUFFIX)).toBe('web-1')
    expect(machineIdFromCn('agent-web-1.other.suffix', SUFFIX)).toBe('agent-web-1.other.suffix')
    expect(machineIdFromCn('web-1.fleet.lab.internal', SUFFIX)).toBe('web-1.fleet.lab.internal')
    expect(machineIdFromCn('operator-alice', SUFFIX)).toBe('operator-alice')
    // A suffix match must be a whole label boundary.
    expect(machineIdFromCn('agent-web-1xfleet.lab.internal', SUFFIX)).toBe(
      'agent-web-1xfleet.lab.internal'
    )
  })

  test('an empty middle names no machine', () => {
    expect(machineIdFromCn('agent-.fleet.lab.internal', SUFFIX)).toBe('agent-.fleet.lab.internal')
  })
})

describe('roleOfCn', () => {
  test('classifies agents, operators and the rest', () => {
    expect(roleOfCn('agent-web-1.fleet.lab.internal', SUFFIX)).toBe('agent')
    expect(roleOfCn('operator-alice', SUFFIX)).toBe('operator')
    expect(roleOfCn('operator-', SUFFIX)).toBe('unknown')
    expect(roleOfCn('viewer-grafana', SUFFIX)).toBe('viewer')
    expect(roleOfCn(operatorRoleCommonName('viewer', 'oncall'), SUFFIX)).toBe('viewer')
    expect(roleOfCn(operatorRoleCommonName('operator', 'alice'), SUFFIX)).toBe('operator')
    expect(roleOfCn('viewer-', SUFFIX)).toBe('unknown')
    expect(roleOfCn('web-1', SUFFIX)).toBe('unknown')
    expect(roleOfCn('agent-web-1.elsewhere', SUFFIX)).toBe('unknown')
    expect(roleOfCn('agent-.fleet.lab.internal', SUFFIX)).toBe('unknown')
    expect(roleOfCn('agent-web-1.fleet.lab.internal', '')).toBe('unknown')
  })
})
