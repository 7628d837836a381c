/**
 * The closure-availability gate: with a cache checked, a host whose target closure is missing
 * waits with a sentence saying what to push, one not checked yet waits for the check, and a
 * present closure or a cache that did not answer holds nothing; without a cache nothing changes.
 */
import { describe, expect, test } from 'bun:test'
import { planNext } from '../plan-next.ts'
import { shortClosure } from './closure-availability.ts'
import { closureOf, opened, world } from '../fixtures.ts'
import type { ClosureStatus, FleetState } from '../types.ts'

const CACHE = 'https://cache.example.org'

describe('closure-availability gate', () => {
  const ms = world({ stable: { waves: [['h1', 'h2']] } })
  const base = opened(ms)
  const withStatus = (status: Record<string, ClosureStatus>): FleetState => ({
    ...base,
    closures: { cache: CACHE, status },
  })
  const verdicts = (fs: FleetState) =>
    planNext(ms, fs, {}, 0).map((a) =>
      a.type === 'DeferDispatch'
        ? [a.hostname, a.reason]
        : [a.type === 'QueueDispatch' ? a.hostname : a.type, a.type]
    )

  test('a missing closure holds its host with the sentence; a present one is dispatched', () => {
    expect(
      verdicts(withStatus({ [closureOf('h1')]: 'missing', [closureOf('h2')]: 'present' }))
    ).toEqual([
      ['h1', `h1 waits: closure sys-h1-r1 not in ${CACHE}; push it with nix copy`],
      ['h2', 'QueueDispatch'],
    ])
  })

  test('a store basename is shortened to its hash prefix and name', () => {
    expect(shortClosure('0c6kzph7l1h1kzdm8mynvbjsjqnxa9nr-nixos-system-web-01')).toBe(
      '0c6kzph7…-nixos-system-web-01'
    )
  })

  test('an unchecked closure waits for the check; an unanswered cache holds nothing', () => {
    const got = verdicts(withStatus({ [closureOf('h2')]: 'error' }))
    expect(got[0]?.[1]).toMatch(/^h1 waits: checking closure .+ in https:\/\/cache\.example\.org$/)
    expect(got[1]).toEqual(['h2', 'QueueDispatch'])
  })

  test('without a checked cache every host is dispatched as before', () => {
    expect(verdicts(base)).toEqual([
      ['h1', 'QueueDispatch'],
      ['h2', 'QueueDispatch'],
    ])
  })
})
