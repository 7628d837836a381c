import { describe, expect, test } from 'bun:test'
import { DispatchHub } from './dispatch-hub.ts'

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
})
