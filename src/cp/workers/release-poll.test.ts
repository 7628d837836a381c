/**
 * The release poller hands its outcomes to the mutator without ever waiting for room: when the
 * mutator's queue is full or closed, the outcome is dropped (the next poll retries), the poll
 * ends, and nothing is queued behind the inputs already there (spec runtime.md §5, the CP
 * poller's `try_send`).
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, type Store } from '../../db/store.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { createLogger } from '../../runtime/log.ts'
import { systemTimers } from '../../runtime/timers.ts'
import { DispatchHub } from '../dispatch-hub.ts'
import { CpMetrics } from '../metrics.ts'
import { CpMutator, MUTATOR_INPUT_CAPACITY } from '../mutator/loop.ts'
import { ReleaseSource } from '../sources/index.ts'
import { CpState } from '../state.ts'
import { ReleasePoller } from './release-poll.ts'

let dir = ''
let store: Store
let logs: string[]
let mutator: CpMutator
let poller: ReleasePoller

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-poll-'))
  store = openStore(':memory:')
  logs = []
  const clock = new FakeClock(Date.UTC(2026, 4, 1))
  const log = createLogger({ component: 't', level: 'debug', sink: (l) => void logs.push(l) })
  const metrics = new CpMetrics()
  // Not started: nothing drains the queue, so the test decides when it is full.
  mutator = new CpMutator({
    store,
    state: new CpState(),
    clock,
    log,
    metrics,
    hub: new DispatchHub({ clock, timers: systemTimers }),
    onFatal: () => {},
    options: {
      startupDispatchHoldMs: 0,
      redeliverAfterMs: 90_000,
      planDebounceMs: 0,
      rolloutRetentionMs: 86_400_000,
      nonceRetentionMs: 86_400_000,
      refusalLogIntervalMs: 60_000,
      probeResultsKept: 10,
    },
  })
  // An empty release directory and no trust file: every poll has an outcome (a failure) to hand on.
  poller = new ReleasePoller({
    source: new ReleaseSource({ releaseDir: dir }),
    trustFile: join(dir, 'trust.json'),
    clock,
    freshnessWindowSecs: 3600,
    mutator,
    log,
    releaseIntervalMs: 3600_000,
    listIntervalMs: 3600_000,
  })
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

const dropped = (): number =>
  logs.filter((l) => l.includes('reducer queue full; poll outcome dropped')).length

test('a full queue: the poll ends at once, its outcome dropped, nothing queued behind the others', async () => {
  let queued = 0
  while (mutator.submit({ type: 'PlanTick' })) queued++
  expect(queued).toBe(MUTATOR_INPUT_CAPACITY)
  await poller.pollRelease()
  expect(mutator.depth).toBe(MUTATOR_INPUT_CAPACITY)
  expect(dropped()).toBe(1)
})

test('a closed queue (the mutator stopped): the poll ends at once, its outcome dropped', async () => {
  await mutator.stop()
  await poller.pollRelease()
  expect(mutator.depth).toBe(0)
  expect(dropped()).toBe(1)
})
