import { describe, expect, test } from 'bun:test'
import { FakeClock } from '../runtime/clock.ts'
import { FakeTimers } from '../runtime/timers.ts'
import { DispatchHub, type PaceOptions, type WakeReason } from './dispatch-hub.ts'

/** A hub on fake time. `run` advances it in 1 ms steps, letting promise callbacks run after each. */
function fakeHub(pace: Partial<PaceOptions> = {}) {
  const clock = new FakeClock(0)
  const timers = new FakeTimers(clock)
  const hub = new DispatchHub({ clock, timers }, pace)
  const run = async (ms: number): Promise<void> => {
    for (let t = 0; t < ms; t++) {
      timers.advance(1)
      await settle()
    }
  }
  /** The event loop is blocked for `ms` (a GC cycle, a burst of handshakes), then catches up. */
  const stall = async (ms: number): Promise<void> => {
    clock.advance(ms)
    timers.advance(0)
    await settle()
  }
  /** Parks a wait and records when and why it ended. */
  const park = (host: string, timeoutMs: number, signal?: AbortSignal) => {
    const end: { why?: WakeReason; at?: number } = {}
    const done = hub.wait(host, timeoutMs, signal).then((why) => {
      end.why = why
      end.at = clock.monotonicMs()
      return why
    })
    return { end, done }
  }
  return { clock, timers, hub, run, stall, park }
}

/** Lets pending promise callbacks run; no time passes. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('DispatchHub', () => {
  test('notify wakes every waiter of that host only, at once', async () => {
    const { hub, run, park } = fakeHub()
    const a = park('h1', 10_000)
    const b = park('h1', 10_000)
    const other = park('h2', 20)
    expect(hub.size()).toBe(3)
    hub.notify('h1')
    await settle()
    expect([a.end, b.end]).toEqual([
      { why: 'notified', at: 0 },
      { why: 'notified', at: 0 },
    ])
    expect(other.end).toEqual({})
    await run(20)
    expect(other.end).toEqual({ why: 'timeout', at: 20 })
    expect(hub.size()).toBe(0)
  })

  test('abort and close end waits; a closed hub refuses new ones', async () => {
    const { hub, timers } = fakeHub()
    const ctl = new AbortController()
    const aborted = hub.wait('h1', 10_000, ctl.signal)
    ctl.abort()
    expect(await aborted).toBe('closed')
    const parked = hub.wait('h2', 10_000)
    hub.close()
    expect(await parked).toBe('closed')
    expect(await hub.wait('h3', 10_000)).toBe('closed')
    // Every timer of an ended wait is cancelled.
    expect(timers.size).toBe(0)
  })

  test('timeouts spread out as a fleet spreads them are answered at their deadline, unpaced', async () => {
    // 50 a second, well under the 500 a second that are never paced.
    const { hub, run, park } = fakeHub()
    const waits = []
    for (let i = 0; i < 50; i++) {
      waits.push({ parkedAt: i * 20, ...park(`h${i}`, 1_000) })
      await run(20)
    }
    await run(1_000)
    for (const w of waits) expect(w.end).toEqual({ why: 'timeout', at: w.parkedAt + 1_000 })
    expect(hub.pacedBacklog()).toBe(0)
  })

  test('timeouts that a stall lined up are answered spread out, within the budget per slot', async () => {
    // 200 waits of 1 s: spread out they time out 20 per 100 ms slot, so the budget is 40.
    const { hub, run, stall, park } = fakeHub({ slotMs: 100, minPerSlot: 10, maxDelayMs: 5_000 })
    const waits = Array.from({ length: 200 }, (_, i) => park(`h${i}`, 1_000))
    await stall(1_100)
    // The stall is over: a step's share timed out at once, the rest queued for the pacer.
    expect(hub.pacedBacklog()).toBe(196)
    expect(waits.filter((w) => w.end.why !== undefined).length).toBe(4)
    await run(2_000)
    expect(waits.every((w) => w.end.why === 'timeout')).toBe(true)
    const ends = waits.map((w) => w.end.at!).sort((a, b) => a - b)
    // 200 at 40 per slot take five slots or more (the budget shrinks as the parked waits end);
    // unpaced they would all end at once.
    expect(ends[0]).toBe(1_100)
    expect(ends.at(-1)! - ends[0]!).toBeGreaterThanOrEqual(500)
    for (const [i, t] of ends.entries()) {
      const inSlot = ends.slice(i).filter((u) => u < t + 100).length
      // The slot's budget plus the one step's share the bucket may hold at its start.
      expect(inSlot).toBeLessThanOrEqual(40 + 4)
    }
    // Oldest first: the waits end in the order their deadlines passed.
    expect(waits.map((w) => w.end.at!)).toEqual(ends)
    expect(hub.size()).toBe(0)
    expect(hub.pacedBacklog()).toBe(0)
  })

  test('no timeout is held more than maxDelayMs past its deadline, and a notify is never held', async () => {
    const { hub, clock, run, stall, park } = fakeHub({
      slotMs: 100,
      minPerSlot: 1,
      maxDelayMs: 300,
    })
    const others = Array.from({ length: 100 }, (_, i) => park(`h${i}`, 1_000))
    // Parked last, so it is last in the pacer's queue too.
    const notified = park('n', 1_000)
    await stall(1_100)
    // Every deadline has passed; the pacer holds most of them, 'n' among them.
    expect(hub.pacedBacklog()).toBeGreaterThan(90)
    await run(50)
    expect(notified.end).toEqual({})
    hub.notify('n')
    await settle()
    expect(notified.end).toEqual({ why: 'notified', at: clock.monotonicMs() })
    await run(400)
    expect(others.every((w) => w.end.why === 'timeout')).toBe(true)
    const at = others.map((w) => w.end.at!).sort((a, b) => a - b)
    // Found expired at 1.1 s (after the stall), then at most 300 ms of pacing, give or take a step.
    expect(at[0]).toBe(1_100)
    expect(at.at(-1)!).toBeLessThanOrEqual(1_100 + 300 + 10)
    // The budget (20 per slot) would have taken 500 ms: the limit, not the budget, ended it.
    expect(at.at(-1)!).toBeGreaterThanOrEqual(1_100 + 300)
    expect(hub.pacedBacklog()).toBe(0)
  })

  test('close ends waits still queued for pacing', async () => {
    const { hub, timers, stall, park } = fakeHub({ slotMs: 100, minPerSlot: 1, maxDelayMs: 10_000 })
    // 50 waits of 1 s: a budget of 10 per slot, one per step.
    const parked = Array.from({ length: 50 }, (_, i) => park(`h${i}`, 1_000))
    await stall(1_100)
    expect(hub.pacedBacklog()).toBe(49)
    hub.close()
    await Promise.all(parked.map((p) => p.done))
    expect(parked.filter((p) => p.end.why === 'timeout').length).toBe(1)
    expect(parked.filter((p) => p.end.why === 'closed').length).toBe(49)
    expect(hub.pacedBacklog()).toBe(0)
    // The pacer is stopped too.
    expect(timers.size).toBe(0)
  })
})
