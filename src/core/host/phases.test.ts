import { describe, expect, test } from 'bun:test'
import { isInFlight, isSettled, isUnderway, isUnfinished, UNDERWAY_PHASES } from './phases.ts'
import { HOST_PHASES } from './state.ts'

describe('phase predicates', () => {
  test('each predicate names exactly its phases', () => {
    const which = (p: (phase: (typeof HOST_PHASES)[number]) => boolean) => HOST_PHASES.filter(p)
    expect(which(isInFlight)).toEqual(['Activating', 'Soaking'])
    expect(which(isUnderway)).toEqual(['Activating', 'Deferred', 'Soaking'])
    expect(which(isUnfinished)).toEqual(['Pending', 'Activating', 'Deferred', 'Soaking'])
    expect(which(isSettled)).toEqual(['Converged', 'Reverted'])
    expect(HOST_PHASES.filter((p) => UNDERWAY_PHASES.includes(p))).toEqual(which(isUnderway))
  })
})
