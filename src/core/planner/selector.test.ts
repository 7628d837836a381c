/**
 * Tests of budget selector identity and display: keys ignore field order and absent-vs-default
 * at every depth, tell `and`/`not` selectors apart, and keep the key of a plain selector as it
 * was; summaries read in matching precedence.
 */
import { describe, expect, test } from 'bun:test'
import type { Selector } from '../types.ts'
import { selectorKey, selectorSummary } from './selector.ts'

const NONE = { tags: [], tagsAny: [], hosts: [], channel: null, all: false }

describe('selectorKey', () => {
  test('a plain selector keeps its key; and: [] / not: null / absent agree', () => {
    const key = '{"all":false,"channel":null,"hosts":[],"tags":["db"],"tagsAny":[]}'
    expect(selectorKey({ tags: ['db'] })).toBe(key)
    expect(selectorKey({ ...NONE, tags: ['db'], and: [], not: null })).toBe(key)
    expect(selectorKey({ tagsAny: [], tags: ['db'], all: false })).toBe(key)
  })

  test('and / not are part of the identity, defaults ignored inside them too', () => {
    const notCanary: Selector = { not: { tags: ['canary'] } }
    expect(selectorKey(notCanary)).not.toBe(selectorKey({}))
    expect(selectorKey(notCanary)).not.toBe(selectorKey({ not: { tags: ['db'] } }))
    expect(selectorKey(notCanary)).toBe(
      selectorKey({ ...NONE, and: [], not: { ...NONE, tags: ['canary'], and: [], not: null } })
    )
    const and: Selector = { and: [{ tags: ['db'] }, { channel: 'lab' }] }
    expect(selectorKey(and)).not.toBe(selectorKey({}))
    expect(selectorKey(and)).not.toBe(selectorKey({ and: [{ channel: 'lab' }, { tags: ['db'] }] }))
    expect(selectorKey(and)).not.toBe(selectorKey({ not: { and: and.and } }))
  })
})

describe('selectorSummary', () => {
  test('the plain rules, as the reference shows them', () => {
    expect(selectorSummary({ all: true, tags: ['x'] })).toBe('all')
    expect(selectorSummary({ channel: 'edge', tags: ['x'] })).toBe('channel:edge')
    expect(selectorSummary({ tags: ['web', 'eu', 'a', 'b'] })).toBe('tags:a,b,eu,+1')
    expect(selectorSummary({ tagsAny: ['db'] })).toBe('tags_any:db')
    expect(selectorSummary({ hosts: ['h2', 'h1'] })).toBe('hosts:h1,h2')
    expect(selectorSummary({ ...NONE, and: [], not: null })).toBe('unknown')
  })

  test('not, then and, take precedence as in matching', () => {
    expect(selectorSummary({ all: true, not: { tags: ['canary'] } })).toBe('not(tags:canary)')
    expect(
      selectorSummary({ all: true, and: [{ tags: ['db'] }, { not: { channel: 'lab' } }] })
    ).toBe('and(tags:db,not(channel:lab))')
    expect(selectorSummary({ not: { and: [{ all: true }] }, and: [{ tags: ['x'] }] })).toBe(
      'not(and(all))'
    )
    const five = ['a', 'b', 'c', 'd', 'e'].map((t) => ({ tags: [t] }))
    expect(selectorSummary({ and: five })).toBe('and(tags:a,tags:b,tags:c,+2)')
  })
})
