/**
 * The pre-fetch worker against the fake system's `nix-store` shim: a new target is realised once
 * (and reported), never the closure the host already runs; a failed realise is counted and not
 * retried before its backoff; the low-priority prefix uses what the system has.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createLogger } from '../../runtime/log.ts'
import { fakeSystem, removeDir, tempDir, type FakeSystem } from '../../../tests/support/fixtures.ts'
import { M, Metrics } from '../metrics.ts'
import { lowPriority, PrefetchWorker } from './prefetch.ts'

let dir: string
let sys: FakeSystem
beforeEach(() => {
  dir = tempDir()
  sys = fakeSystem(dir)
})
afterEach(() => removeDir(dir))

function worker(target: () => string | undefined, current: string | undefined) {
  let mono = 0
  const reported: string[] = []
  const metrics = new Metrics()
  const w = new PrefetchWorker({
    target,
    currentClosure: () => current,
    nixStore: sys.paths.nixStore,
    nixStoreDir: sys.storeDir,
    realiseTimeoutMs: 5_000,
    intervalMs: 1_000,
    retryMs: 60_000,
    monotonicMs: () => mono,
    onPrefetched: (c) => reported.push(c),
    log: createLogger({ component: 'prefetch-test', level: 'error' }),
    metrics,
  })
  return { w, reported, metrics, advance: (ms: number) => (mono += ms) }
}

describe('prefetch worker', () => {
  test('realises a new target once and reports it; not the running closure', async () => {
    const next = sys.closure('next')
    const t = worker(() => next, undefined)
    expect(await t.w.once()).toBe(true)
    expect(t.w.prefetched).toBe(next)
    expect(t.reported).toEqual([next])
    expect(await t.w.once()).toBe(false)
    expect(t.metrics.value(M.prefetches, { outcome: 'ok' })).toBe(1)

    const running = worker(() => next, next)
    expect(await running.w.once()).toBe(false)
    expect(await worker(() => undefined, undefined).w.once()).toBe(false)
  })

  test('a failed realise is counted and retried only after the backoff', async () => {
    const next = sys.closure('next')
    sys.failRealise('error: unable to download narinfo')
    const t = worker(() => next, undefined)
    expect(await t.w.once()).toBe(true)
    expect(t.w.prefetched).toBeUndefined()
    expect(t.metrics.value(M.prefetches, { outcome: 'failed' })).toBe(1)
    expect(await t.w.once()).toBe(false)
    sys.failRealise(undefined)
    t.advance(60_000)
    expect(await t.w.once()).toBe(true)
    expect(t.reported).toEqual([next])
  })

  test('the low-priority prefix uses nice and ionice when present', () => {
    const all = (cmd: string) => `/bin/${cmd}`
    expect(lowPriority(all)).toEqual(['/bin/nice', '-n', '19', '/bin/ionice', '-c', '3'])
    expect(lowPriority((cmd) => (cmd === 'nice' ? '/bin/nice' : null))).toEqual([
      '/bin/nice',
      '-n',
      '19',
    ])
    expect(lowPriority(() => null)).toEqual([])
  })
})
