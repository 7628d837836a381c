/**
 * Unit tests of a follower's own answers to heartbeats without news: only what the leader already
 * answered with the same news, for a host with nothing in progress, is answered here; every such
 * heartbeat reaches the leader in a batch (on the timer, at the size cap, at stop), the latest per
 * host; a batch the leader cannot take is dropped with a warning.
 */
import { describe, expect, test } from 'bun:test'
import { newPendingHost } from '../../core/index.ts'
import type { HeartbeatRequest } from '../../proto/agent.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { createLogger } from '../../runtime/log.ts'
import { FakeTimers } from '../../runtime/timers.ts'
import type { CpInput, InputKind, InputOf, ReplyOf } from '../mutator/inputs.ts'
import { CpState } from '../state.ts'
import type { MutatorPort } from './mutator-port.ts'
import { QuietHeartbeats } from './quiet-heartbeats.ts'

const NOW = Date.UTC(2026, 11, 4, 12)
const RID = `stable@${'a'.repeat(40)}`

/** The leader as a follower reaches it: every submitted input kept; `full` refuses them all. */
class LeaderInbox implements MutatorPort {
  readonly inputs: CpInput[] = []
  full = false
  readonly depth = 0
  submit<K extends InputKind>(input: InputOf<K>): boolean {
    if (this.full) return false
    this.inputs.push(input as CpInput)
    return true
  }
  request<K extends InputKind>(): Promise<ReplyOf<K>> | undefined {
    throw new Error('a batch is submitted, never requested')
  }
  batches(): string[][] {
    return this.inputs.map((i) =>
      i.type === 'HeartbeatBatch'
        ? i.items.map((x) => `${x.request.hostname}@${x.request.at}`)
        : [i.type]
    )
  }
}

function setup(opts: { maxBatch?: number } = {}) {
  const clock = new FakeClock(NOW)
  const timers = new FakeTimers(clock)
  const state = new CpState()
  const inbox = new LeaderInbox()
  const lines: string[] = []
  const log = createLogger({ component: 'test', now: () => NOW, sink: (l) => void lines.push(l) })
  const quiet = new QuietHeartbeats({
    state,
    port: inbox,
    clock,
    timers,
    log,
    flushMs: 2_000,
    ...opts,
  })
  return { clock, timers, state, inbox, quiet, lines }
}

function hb(host: string, over: Partial<Record<keyof HeartbeatRequest, unknown>> = {}) {
  const request = {
    hostname: host,
    rollout_id: null,
    current_closure: `/nix/store/${'c'.repeat(32)}-${host}`,
    at: new Date(NOW).toISOString(),
    ...over,
  } as unknown as HeartbeatRequest
  return { type: 'Heartbeat', request } as const satisfies InputOf<'Heartbeat'>
}

describe('QuietHeartbeats', () => {
  test('a host is answered here only after the leader answered the same news', () => {
    const { quiet, state } = setup()
    expect(quiet.answer(hb('web-1'))).toBeUndefined()
    quiet.acknowledged(hb('web-1'))
    expect(state.heartbeats.get('web-1')?.closure).toContain('web-1')
    expect(quiet.answer(hb('web-1', { at: new Date(NOW + 60_000).toISOString() }))).toEqual({
      replayFrom: null,
      replayFromByRollout: {},
      bootstrap: [],
    })
    // News: another closure, a problem, another certificate.
    expect(quiet.answer(hb('web-1', { current_closure: '/nix/store/x-other' }))).toBeUndefined()
    expect(
      quiet.answer(hb('web-1', { local_problem: { worker: 'probe', code: 'io', message: 'm' } }))
    ).toBeUndefined()
    expect(
      quiet.answer({ ...hb('web-1'), cert: { serial: 'ff', notBefore: 0, notAfter: 1 } })
    ).toBeUndefined()
    // Another host's acknowledgement answers nothing for this one.
    expect(quiet.answer(hb('web-2'))).toBeUndefined()
  })

  test('a host waiting for its wave is answered here; at its target, underway or with a dispatch it goes to the leader', () => {
    const { quiet, state } = setup()
    const target = `/nix/store/${'t'.repeat(32)}-system`
    const pending = newPendingHost({
      rolloutId: RID,
      hostname: 'web-1',
      channel: 'stable',
      targetClosure: target,
      dispatchedAt: NOW,
    })
    quiet.acknowledged(hb('web-1'))
    state.putHost(pending, 1)
    // Pending, not at its target: the leader would synthesize nothing; the snapshot is given.
    const reply = quiet.answer(hb('web-1'))
    expect(reply?.bootstrap?.map((b) => b.state)).toEqual(['Pending'])
    // At its target (the leader would converge or replan it).
    quiet.acknowledged(hb('web-1', { current_closure: target }))
    expect(quiet.answer(hb('web-1', { current_closure: target }))).toBeUndefined()
    // Underway.
    state.putHost({ ...pending, phase: 'Activating' }, 1)
    expect(quiet.answer(hb('web-1'))).toBeUndefined()
    // A dispatch queued for it.
    state.putHost({ ...pending, phase: 'Converged' }, 1)
    quiet.acknowledged(hb('web-1'))
    expect(quiet.answer(hb('web-1'))).toBeDefined()
    state.putDispatch({
      hostname: 'web-1',
      rolloutId: RID,
      targetClosure: target,
      soakDueAt: NOW,
      enqueuedAt: NOW,
      waveIndex: 1,
    })
    expect(quiet.answer(hb('web-1'))).toBeUndefined()
  })

  test('answered heartbeats reach the leader in one batch on the timer, the latest per host', () => {
    const { quiet, inbox, timers } = setup()
    for (const h of ['web-1', 'web-2']) quiet.acknowledged(hb(h))
    const at = (s: number) => new Date(NOW + s * 1000).toISOString()
    expect(quiet.answer(hb('web-1', { at: at(1) }))).toBeDefined()
    expect(quiet.answer(hb('web-2', { at: at(1) }))).toBeDefined()
    expect(quiet.answer(hb('web-1', { at: at(2) }))).toBeDefined()
    expect(quiet.waiting).toBe(2)
    timers.advance(1_999)
    expect(inbox.inputs).toHaveLength(0)
    timers.advance(1)
    expect(inbox.batches()).toEqual([[`web-2@${at(1)}`, `web-1@${at(2)}`]])
    expect(quiet.waiting).toBe(0)
    // Nothing waits: no empty batch.
    timers.advance(10_000)
    expect(inbox.inputs).toHaveLength(1)
  })

  test('a full batch goes at once; stop sends what waits and answers nothing more', () => {
    const { quiet, inbox } = setup({ maxBatch: 2 })
    for (const h of ['a', 'b', 'c']) quiet.acknowledged(hb(h))
    for (const h of ['a', 'b', 'c']) expect(quiet.answer(hb(h))).toBeDefined()
    expect(inbox.batches()).toEqual([[`a@${hb('a').request.at}`, `b@${hb('b').request.at}`]])
    quiet.stop()
    expect(inbox.batches()[1]).toEqual([`c@${hb('c').request.at}`])
    expect(quiet.answer(hb('a'))).toBeUndefined()
  })

  test('a batch the leader cannot take is dropped with a warning', () => {
    const { quiet, inbox, timers, lines } = setup()
    quiet.acknowledged(hb('web-1'))
    inbox.full = true
    expect(quiet.answer(hb('web-1'))).toBeDefined()
    timers.advance(2_000)
    expect(inbox.inputs).toHaveLength(0)
    expect(lines.join('')).toContain('heartbeat batch dropped')
    expect(quiet.waiting).toBe(0)
  })
})
