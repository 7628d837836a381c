/**
 * The host-problem registry: a supervised worker that throws a file-system error is logged,
 * counted, reported while it lasts and run again after a backoff; it never ends the loop.
 */
import { afterEach, beforeEach, expect, test } from 'bun:test'
import { FakeClock } from '../runtime/clock.ts'
import { createLogger, parseLogLine } from '../runtime/log.ts'
import { removeDir, tempDir } from '../../tests/support/fixtures.ts'
import { M, Metrics } from './metrics.ts'
import { HostProblems, type HostProblem } from './problems.ts'

let dir = ''
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => removeDir(dir))

const enospc = (): Error =>
  Object.assign(new Error("ENOSPC: no space left on device, write '/var/lib/x'"), {
    code: 'ENOSPC',
  })

test('a worker that throws is counted, reported, and run again until it works', async () => {
  const metrics = new Metrics()
  const logs: string[] = []
  const problems = new HostProblems({
    stateDir: dir,
    clock: new FakeClock(Date.UTC(2026, 4, 1)),
    log: createLogger({ component: 't', sink: (l) => void logs.push(l) }),
    metrics,
  })
  const seen: (HostProblem | undefined)[] = []
  let runs = 0
  const stop = new AbortController()
  await problems.supervise(
    'dispatch-poll',
    async () => {
      runs++
      seen.push(problems.current())
      if (runs <= 2) throw enospc()
    },
    20,
    stop.signal
  )
  expect(runs).toBe(3)
  expect(seen[1]).toBeUndefined() // cleared before each new run: the state dir is writable
  expect(problems.current()).toBeUndefined()
  expect(metrics.value(M.workerErrors, { worker: 'dispatch-poll', code: 'ENOSPC' })).toBe(2)
  const line = parseLogLine(logs.find((l) => l.includes('worker error'))!)!.record
  expect(line).toMatchObject({ level: 'error', worker: 'dispatch-poll', code: 'ENOSPC' })
  expect(line.error).toStartWith('no space left on device: ENOSPC')
})

test('an open problem is what the heartbeat reports until the worker works again', () => {
  const problems = new HostProblems({
    stateDir: dir,
    clock: new FakeClock(5_000),
    log: createLogger({ component: 't', sink: () => {} }),
    metrics: new Metrics(),
  })
  problems.failed('mutator', enospc())
  expect(problems.current()).toMatchObject({ worker: 'mutator', code: 'ENOSPC', since: 5_000 })
  problems.ok('mutator')
  expect(problems.current()).toBeUndefined()
})
