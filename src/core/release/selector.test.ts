/**
 * Tests of selector matching (protocol §3.1): a selector matches when ANY of its rules fires,
 * an empty selector matches nothing, and an empty `tags` list is not a vacuous match.
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
