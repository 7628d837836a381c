import { expect, test } from 'bun:test'
import { sequenced, type Unsequenced } from './unsequenced.ts'

test('sequenced numbers an event and keeps every other field', () => {
  const e: Unsequenced = {
    type: 'LocalActivationFailed',
    exitCode: 4,
    stderrTail: 'boom',
    failedAt: 7,
  }
  expect(sequenced(e, 3)).toEqual({
    type: 'LocalActivationFailed',
    seq: 3,
    exitCode: 4,
    stderrTail: 'boom',
    failedAt: 7,
  })
  expect('seq' in e).toBe(false)
})
