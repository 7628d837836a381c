import { describe, expect, test } from 'bun:test'
import { DispatchHub } from './dispatch-hub.ts'

/** Keeps the event loop busy for `ms`, as a GC cycle or a burst of handshakes would. */
function stall(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // busy
  }
}

/** Parks `n` waits of `timeoutMs` each, stalls past their deadline, and times each one out. */
async function timeoutsAfterStall(hub: DispatchHub, n: number, timeoutMs: number): Promise<number[]> {
  const t0 = performance.now()
  const ends = Array.from({ length: n }, (_, i) =>
    hub.wait(`h${i}`, timeoutMs).then((why) => {
      expect(why).toBe('timeout')
      return performance.now() - t0
    })
  )
  stall(timeoutMs + 100)
  return (await Promise.all(ends)).sort((a, b) => a - b)
}

describe('DispatchHub', () => {
  test('notify wakes every waiter of that host only', async () => {
    const hub = new DispatchHub()
    const a = hub.wait('h1', 10_000)
    const b = hub.wait('h1', 10_000)
    const other = hub.wait('h2', 20)
    expect(hub.size()).toBe(3)
    hub.notify('h1')
    expect(await Promise.all([a, b, other])).toEqual(['notified', 'notified', 'timeout'])
    expect(hub.size()).toBe(0)
  })

  test('abort and close end waits; a closed hub refuses new ones', async () => {
    const hub = new DispatchHub()
    const ctl = new AbortController()
    const aborted = hub.wait('h1', 10_000, ctl.signal)
    ctl.abort()
    expect(await aborted).toBe('closed')
    const parked = hub.wait('h2', 10_000)
    hub.close()
    expect(await parked).toBe('closed')
    expect(await hub.wait('h3', 10_000)).toBe('closed')
  })

  test('timeouts that a stall lined up are answered spread out, within the budget per slot', async () => {
    // 200 waits of 1 s: spread out they time out 20 per 100 ms slot, so the budget is 40.
    const hub = new DispatchHub({ slotMs: 100, minPerSlot: 10, maxDelayMs: 5_000 })
    const pending = timeoutsAfterStall(hub, 200, 1_000)
    await Bun.sleep(0)
    // The stall is over: most of the 200 are past their deadline, queued for the pacer.
    expect(hub.pacedBacklog()).toBeGreaterThan(100)
    const ends = await pending
    // 200 at 40 per slot take about five slots; unpaced they would all end at once.
    expect(ends.at(-1)! - ends[0]!).toBeGreaterThan(350)
    for (const [i, t] of ends.entries()) {
      const inSlot = ends.slice(i).filter((u) => u < t + 100).length
      expect(inSlot).toBeLessThanOrEqual(40 + 4)
    }
    expect(hub.size()).toBe(0)
    expect(hub.pacedBacklog()).toBe(0)
  })

  test('no timeout is held more than maxDelayMs past its deadline, and a notify is never held', async () => {
    const hub = new DispatchHub({ slotMs: 100, minPerSlot: 1, maxDelayMs: 300 })
    const t0 = performance.now()
    const others = Array.from({ length: 100 }, (_, i) =>
      hub.wait(`h${i}`, 1_000).then((why) => ({ why, at: performance.now() - t0 }))
    )
    // Parked last, so it is last in the pacer's queue too.
    const notified = hub.wait('n', 1_000)
    stall(1_100)
    await Bun.sleep(0)
    // Every deadline has passed; the pacer holds most of them, 'n' among them.
    expect(hub.pacedBacklog()).toBeGreaterThan(50)
    const woken = performance.now()
    hub.notify('n')
    expect(await notified).toBe('notified')
    expect(performance.now() - woken).toBeLessThan(50)
    const done = await Promise.all(others)
    expect(done.every((d) => d.why === 'timeout')).toBe(true)
    const at = done.map((d) => d.at).sort((a, b) => a - b)
    // Deadline 1 s, stall to 1.1 s, then at most 300 ms of pacing (plus slack for a busy machine).
    expect(at.at(-1)!).toBeLessThan(1_100 + 300 + 400)
    expect(at.at(-1)! - at[0]!).toBeGreaterThan(200)
  })

  test('close ends waits still queued for pacing', async () => {
    const hub = new DispatchHub({ slotMs: 100, minPerSlot: 1, maxDelayMs: 10_000 })
    // 50 waits of 1 s: a budget of 10 per slot, one per step.
    const parked = Array.from({ length: 50 }, (_, i) => hub.wait(`h${i}`, 1_000))
    stall(1_100)
    await Bun.sleep(0)
    hub.close()
    const why = await Promise.all(parked)
    expect(why.filter((w) => w === 'closed').length).toBeGreaterThanOrEqual(45)
    expect(why.every((w) => w === 'closed' || w === 'timeout')).toBe(true)
  })
})

