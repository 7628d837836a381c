/** Tests of the durable outbound queue: order, torn writes, dead letters, replay, GC. */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { OutboundAgentEvent } from '../core/index.ts'
import { removeDir, tempDir } from '../../tests/support/fixtures.ts'
import { Outbox, type OutboxEntry } from './outbox.ts'

const R1 = 'stable@aaaa'
const R2 = 'stable@bbbb'

function entry(rolloutId: string, seq: number, durable = true): OutboxEntry {
  const event: OutboundAgentEvent =
    seq === 1
      ? { kind: 'DispatchAck', seq, currentClosureAtDispatch: 'prior', receivedAt: 1000 }
      : {
          kind: 'ProbeResult',
          seq,
          probeName: 'p',
          mode: 'enforce',
          status: 'pass',
          observedAt: 1000 + seq,
          failureReason: null,
          subResults: null,
        }
  return { rolloutId, seq, kind: event.kind, durable, createdAt: 1000 + seq, event }
}

let dir = ''
let box: Outbox

beforeEach(() => {
  dir = tempDir()
  box = new Outbox(dir)
})
afterEach(() => removeDir(dir))

describe('Outbox', () => {
  test('keeps events per rollout in seq order regardless of enqueue order', () => {
    box.enqueue(entry(R1, 3))
    box.enqueue(entry(R1, 1))
    box.enqueue(entry(R2, 1))
    box.enqueue(entry(R1, 2))
    const pending = box.pending()
    expect(pending.map((p) => [p.rolloutId, p.entries.map((e) => e.seq)])).toEqual([
      [R1, [1, 2, 3]],
      [R2, [1]],
    ])
    expect(box.depth()).toBe(4)
    expect(box.depth(R2)).toBe(1)
  })

  test('the same seq in two rollouts does not collide', () => {
    box.enqueue(entry(R1, 1))
    box.enqueue(entry(R2, 1))
    expect(
      box
        .pending()
        .flatMap((p) => p.entries)
        .map((e) => `${e.rolloutId}#${e.seq}`)
    ).toEqual([`${R1}#1`, `${R2}#1`])
  })

  test('torn temporary files and strangers are ignored, and swept at start', () => {
    box.enqueue(entry(R1, 1))
    const rdir = join(dir, 'outbox', R1)
    writeFileSync(join(rdir, '.0000000002-ProbeResult.json.tmp'), '{"rolloutId":"stable@aaaa","se')
    writeFileSync(join(rdir, 'notes.txt'), 'hello')
    expect(box.pending()[0]!.entries.map((e) => e.seq)).toEqual([1])
    expect(box.sweep()).toBe(1)
    expect(readdirSync(rdir).sort()).toEqual(['0000000001-DispatchAck.json', 'notes.txt'])
  })

  test('a corrupt event file is skipped and reported, not fatal', () => {
    box.enqueue(entry(R1, 1))
    writeFileSync(join(dir, 'outbox', R1, '0000000002-ProbeResult.json'), '{not json')
    expect(box.pending()[0]!.entries.map((e) => e.seq)).toEqual([1])
    const file = join(dir, 'outbox', R1, '0000000002-ProbeResult.json')
    expect(box.corrupt).toEqual([{ file, reason: `event file ${file}: not JSON` }])
  })

  test('delivered durable events move to sent/, non-durable ones are deleted', () => {
    box.enqueue(entry(R1, 1, true))
    box.enqueue(entry(R1, 2, false))
    for (const e of box.pending()[0]!.entries) box.markSent(e)
    expect(box.depth()).toBe(0)
    expect(readdirSync(join(dir, 'sent', R1))).toEqual(['0000000001-DispatchAck.json'])
  })

  test('dead letters are parked with the reason and never pending again', () => {
    box.enqueue(entry(R1, 1))
    box.enqueue(entry(R1, 2))
    const first = box.pending()[0]!.entries[0]!
    const path = box.deadLetter(first, { status: 409, reason: 'HTTP 409: illegal', at: 5 })
    expect(box.pending()[0]!.entries.map((e) => e.seq)).toEqual([2])
    expect(box.deadLetterCount()).toBe(1)
    const parked = JSON.parse(readFileSync(path, 'utf8'))
    expect(parked.deadLetter).toEqual({ status: 409, reason: 'HTTP 409: illegal', at: 5 })
    expect(parked.event).toEqual(first.event)
  })

  test('replayFrom moves sent events above N back to the outbox', () => {
    for (const s of [1, 2, 3]) box.enqueue(entry(R1, s, true))
    for (const e of box.pending()[0]!.entries) box.markSent(e)
    expect(box.replayFrom(R1, 1)).toBe(2)
    expect(box.pending()[0]!.entries.map((e) => e.seq)).toEqual([2, 3])
    expect(box.replayFrom(R2, 0)).toBe(0)
  })

  test('recordedAbove sees pending, sent and dead events', () => {
    for (const s of [1, 2, 3, 4]) box.enqueue(entry(R1, s, true))
    const [e1, e2] = box.pending()[0]!.entries
    box.markSent(e1!)
    box.deadLetter(e2!, { status: 400, reason: 'bad', at: 1 })
    expect(box.recordedAbove(R1, 0).map((e) => e.seq)).toEqual([1, 2, 3, 4])
    expect(box.recordedAbove(R1, 2).map((e) => e.seq)).toEqual([3, 4])
  })

  test('forget drops delivered events but keeps pending ones', () => {
    box.enqueue(entry(R1, 1, true))
    box.markSent(box.pending()[0]!.entries[0]!)
    box.enqueue(entry(R1, 2, true))
    box.forget(R1)
    expect(existsSync(join(dir, 'sent', R1))).toBe(false)
    expect(box.depth(R1)).toBe(1)
  })

  test('refuses a rollout id that could escape the state directory', () => {
    expect(() => box.enqueue(entry('../../etc', 1))).toThrow('not a rollout id')
  })
})
