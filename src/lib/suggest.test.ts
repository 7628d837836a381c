import { describe, expect, test } from 'bun:test'
import { editDistance, suggest } from './suggest.ts'

describe('editDistance', () => {
  test('counts insertions, deletions, substitutions and transpositions as one edit each', () => {
    expect(editDistance('', '')).toBe(0)
    expect(editDistance('tags', 'tags')).toBe(0)
    expect(editDistance('tag', 'tags')).toBe(1)
    expect(editDistance('tagsz', 'tags')).toBe(1)
    expect(editDistance('tagz', 'tags')).toBe(1)
    expect(editDistance('tgas', 'tags')).toBe(1)
    expect(editDistance('rolloutPolicys', 'rolloutPolicies')).toBe(2)
    expect(editDistance('', 'abc')).toBe(3)
    expect(editDistance('kitten', 'sitting')).toBe(3)
  })
})

describe('suggest', () => {
  const TOP = ['channelEdges', 'channels', 'disruptionBudgets', 'edges', 'hosts', 'waves']

  test('a near spelling, a plural or a different case is recognised', () => {
    expect(suggest('disruptionBudget', TOP)).toBe('disruptionBudgets')
    expect(suggest('host', TOP)).toBe('hosts')
    expect(suggest('Channels', TOP)).toBe('channels')
    expect(suggest('chanels', TOP)).toBe('channels')
    expect(suggest('tagz', ['tags', 'tagsAny', 'hosts'])).toBe('tags')
    expect(suggest('rolloutPolicys', ['rolloutPolicies', 'meta'])).toBe('rolloutPolicies')
  })

  test('a prefix of a known name finds it, after any close spelling', () => {
    expect(suggest('disruption', TOP)).toBe('disruptionBudgets')
    expect(suggest('tag', ['tagsAny', 'tags'])).toBe('tags')
  })

  test('nothing is suggested for an unrelated or too short word', () => {
    expect(suggest('frobnicate', TOP)).toBeUndefined()
    expect(suggest('x', ['all', 'and', 'not'])).toBeUndefined()
    expect(suggest('zz', ['all', 'and'])).toBeUndefined()
    expect(suggest('anything', [])).toBeUndefined()
  })
})
