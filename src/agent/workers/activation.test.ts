/**
 * The activation worker against the fake NixOS system: a switch intent reports Started then
 * Completed, an intent of a superseded rollout is skipped, and a resumed switch that another
 * switch keeps locked fails at its deadline (on injected timers, so the test does not wait).
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import type { Unsequenced } from '../../core/index.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { createLogger } from '../../runtime/log.ts'
import { fakeSystem, removeDir, tempDir, type FakeSystem } from '../../../tests/support/fixtures.ts'
import type { ActivationDeps } from '../activation.ts'
import { Metrics } from '../metrics.ts'
import { steppingTimers, systemTimers } from '../timing.ts'
import { ActivationWorker } from './activation.ts'

const T0 = Date.UTC(2026, 4, 1, 12)
const R1 = 'stable@1111'
const R2 = 'stable@2222'

let dir = ''
let sys: FakeSystem

beforeEach(() => {
  dir = tempDir()
  sys = fakeSystem(dir)
})
afterEach(() => removeDir(dir))

/** Runs the worker until it has emitted `count` events; returns them with their rollouts. */
async function runUntil(
  pipeline: Omit<ActivationDeps, 'signal'>,
  submit: (w: ActivationWorker) => void,
  count: number
): Promise<{ rolloutId: string; event: Unsequenced }[]> {
  const stop = new AbortController()
  const events: { rolloutId: string; event: Unsequenced }[] = []
  const worker = new ActivationWorker({
    pipeline,
    emit: async (rolloutId, event) => {
      events.push({ rolloutId, event })
      if (events.length === count) stop.abort()
    },
    onRollbackFailed: () => {},
    isCurrent: (rolloutId) => rolloutId === R1,
    clock: new FakeClock(T0),
    log: createLogger({ component: 't', sink: () => {} }),
    metrics: new Metrics(),
  })
  submit(worker)
  await worker.run(stop.signal)
  return events
}

const pipeline = (): Omit<ActivationDeps, 'signal'> => ({
  system: sys.paths,
  switchPollMs: 20,
  switchTimeoutMs: 3_000,
  realiseTimeoutMs: 5_000,
  timers: systemTimers,
})

test('a switch reports Started then Completed; a superseded rollout is skipped', async () => {
  const target = sys.closure('v2')
  const events = await runUntil(
    pipeline(),
    (w) => {
      w.submit({ rolloutId: R2, closure: target, kind: 'switch', mayRealise: true })
      w.submit({ rolloutId: R1, closure: target, kind: 'switch', mayRealise: true })
    },
    2
  )
  expect(events.map((e) => [e.rolloutId, e.event.type])).toEqual([
    [R1, 'LocalActivationStarted'],
    [R1, 'LocalActivationCompleted'],
  ])
  expect(events[1]!.event).toMatchObject({
    observedCurrentClosure: target,
    exitCode: 0,
    completedAt: T0,
  })
})

test('a resumed switch that another switch keeps locked fails at the deadline', async () => {
  const target = sys.closure('v2')
  // `false` stands in for flock reporting the lock as held by another process.
  writeFileSync(sys.paths.switchLock, '')
  const timers = steppingTimers()
  const events = await runUntil(
    {
      ...pipeline(),
      system: { ...sys.paths, flock: 'false' },
      switchPollMs: 60_000,
      switchTimeoutMs: 300_000,
      timers,
    },
    (w) => w.submit({ rolloutId: R1, closure: target, kind: 'resume-switch', mayRealise: true }),
    1
  )
  expect(events).toEqual([
    {
      rolloutId: R1,
      event: {
        type: 'LocalActivationFailed',
        exitCode: -1,
        stderrTail: 'a switch started before the agent restarted did not finish in time',
        failedAt: T0,
      },
    },
  ])
  expect(timers.elapsed()).toBe(300_000)
})
