/**
 * Tests of selector matching (protocol §3.1): a selector matches when ANY of its rules fires,
 * an empty selector matches nothing, and an empty `tags` list is not a vacuous match; `not` and
 * `and` take precedence over those rules in that order, as in mkFleet.
 */
import { describe, expect, test } from 'bun:test'
import type { Selector } from '../../proto/common.ts'
import type { ChannelName, Hostname } from '../../proto/ids.ts'
import { selectorMatches } from './selector.ts'

const EMPTY: Selector = { tags: [], tagsAny: [], hosts: [], channel: null, all: false }
const sel = (
  s: Partial<Omit<Selector, 'hosts' | 'channel'>> & { hosts?: string[]; channel?: string | null }
): Selector => ({ ...EMPTY, ...s }) as Selector
const name = (s: string): Hostname => s as Hostname

const web01 = { channel: 'stable', tags: ['web', 'eu', 'canary'] }
const db01 = { channel: 'stable', tags: ['db', 'eu'] }
const dev01 = { channel: 'edge', tags: [] as string[] }

/** The names of the fleet hosts a selector matches. */
function matching(s: Selector): string[] {
  const fleet = { 'web-01': web01, 'db-01': db01, 'dev-01': dev01 }
  return Object.entries(fleet)
    .filter(([n, h]) => selectorMatches(s, name(n), h))
    .map(([n]) => n)
}

describe('selectorMatches', () => {
  test('all: true matches every host, even one without tags', () => {
    expect(matching(sel({ all: true }))).toEqual(['web-01', 'db-01', 'dev-01'])
  })

  test('hosts matches the named hosts only (exact names)', () => {
    expect(matching(sel({ hosts: ['db-01', 'dev-0', 'nope'] }))).toEqual(['db-01'])
  })

  test('channel matches hosts of that channel; null matches none', () => {
    expect(matching(sel({ channel: 'edge' }))).toEqual(['dev-01'])
    expect(matching(sel({ channel: 'stable' as ChannelName }))).toEqual(['web-01', 'db-01'])
    expect(matching(sel({ channel: null }))).toEqual([])
  })

  test('tags requires every listed tag', () => {
    expect(matching(sel({ tags: ['eu'] }))).toEqual(['web-01', 'db-01'])
    expect(matching(sel({ tags: ['web', 'eu'] }))).toEqual(['web-01'])
    expect(matching(sel({ tags: ['web', 'db'] }))).toEqual([])
  })

  test('tagsAny requires at least one listed tag', () => {
    expect(matching(sel({ tagsAny: ['db', 'canary'] }))).toEqual(['web-01', 'db-01'])
    expect(matching(sel({ tagsAny: ['nope'] }))).toEqual([])
  })

  test('rules are OR-ed: any rule firing is enough', () => {
    expect(matching(sel({ tags: ['db'], channel: 'edge' }))).toEqual(['db-01', 'dev-01'])
    expect(matching(sel({ hosts: ['dev-01'], tagsAny: ['canary'] }))).toEqual(['web-01', 'dev-01'])
  })

  test('the empty selector matches nothing; empty tags is not a vacuous match', () => {
    expect(matching(EMPTY)).toEqual([])
    expect(selectorMatches(sel({ tags: [] }), name('web-01'), web01)).toBe(false)
    expect(selectorMatches(sel({ tags: [] }), name('dev-01'), dev01)).toBe(false)
  })
})

describe('selectorMatches: and / not (mkFleet precedence: not, then and, then the rules)', () => {
  test('not matches the hosts its selector does not', () => {
    expect(matching(sel({ not: sel({ tags: ['canary'] }) }))).toEqual(['db-01', 'dev-01'])
    expect(matching(sel({ not: EMPTY }))).toEqual(['web-01', 'db-01', 'dev-01'])
    expect(matching(sel({ not: sel({ all: true }) }))).toEqual([])
  })

  test('not not is the selector itself', () => {
    const notNot = sel({ not: sel({ not: sel({ channel: 'edge' }) }) })
    expect(matching(notNot)).toEqual(['dev-01'])
  })

  test('and matches the hosts every sub-selector matches', () => {
    expect(
      matching(sel({ and: [sel({ tags: ['eu'] }), sel({ tagsAny: ['db', 'dev'] })] }))
    ).toEqual(['db-01'])
    expect(matching(sel({ and: [sel({ all: true })] }))).toEqual(['web-01', 'db-01', 'dev-01'])
    expect(matching(sel({ and: [sel({ tags: ['eu'] }), EMPTY] }))).toEqual([])
  })

  test('and nests not, and not nests and', () => {
    const euButNotCanary = sel({
      and: [sel({ tags: ['eu'] }), sel({ not: sel({ tags: ['canary'] }) })],
    })
    expect(matching(euButNotCanary)).toEqual(['db-01'])
    expect(matching(sel({ not: euButNotCanary }))).toEqual(['web-01', 'dev-01'])
  })

  test('not wins over and and over the rules; and wins over the rules', () => {
    const notDb = sel({ tagsAny: ['db'] })
    expect(matching(sel({ all: true, not: notDb }))).toEqual(['web-01', 'dev-01'])
    expect(matching(sel({ and: [sel({ all: true })], not: notDb }))).toEqual(['web-01', 'dev-01'])
    expect(matching(sel({ all: true, and: [sel({ tags: ['web'] })] }))).toEqual(['web-01'])
    expect(matching(sel({ hosts: ['dev-01'], and: [sel({ tags: ['db'] })] }))).toEqual(['db-01'])
  })

  test('and: [] and not: null are the plain rules', () => {
    expect(matching(sel({ channel: 'edge', and: [], not: null }))).toEqual(['dev-01'])
    expect(matching(sel({ and: [], not: null }))).toEqual([])
  })

  test('absent fields mean their defaults (a selector read back from storage)', () => {
    const stored = { not: { tags: ['canary'] } }
    expect(selectorMatches(stored, 'db-01', db01)).toBe(true)
    expect(selectorMatches(stored, 'web-01', web01)).toBe(false)
    expect(
      selectorMatches({ and: [{ channel: 'stable' }, { tagsAny: ['db'] }] }, 'db-01', db01)
    ).toBe(true)
    expect(selectorMatches({}, 'db-01', db01)).toBe(false)
  })
})
