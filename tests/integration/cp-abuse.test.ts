/**
 * One host, or one peer without a certificate, must not be able to hurt the control plane
 * (issue: disk fill by events, log flooding, connection exhaustion). Real CP, real SQLite file,
 * real mTLS on 127.0.0.1; every load loop is bounded in count and time.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { createLogger } from '../../src/runtime/log.ts'
import { closureOf, Lab, startCp, T0, type FleetSpec, type TestCp } from './cp-support.ts'

const iso = (ms: number): string => new Date(ms).toISOString()

let lab: Lab
let t: TestCp | undefined

beforeEach(async () => {
  lab = await Lab.create()
})
afterEach(async () => {
  await t?.stop()
  t = undefined
  lab.cleanup()
})

const twoWaves: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
  channels: { stable: { waves: [['h1'], ['h2']] } },
}

/** A logger at info level whose lines land in `lines` (parsed). */
function capturingLog(lines: Record<string, unknown>[]) {
  return createLogger({
    component: 'cp-test',
    level: 'info',
    sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  })
}

describe('log flooding', () => {
  test('identical refused events are logged once per interval, then with a count', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    const rid = rolloutIds[0]!
    const lines: Record<string, unknown>[] = []
    t = await startCp(lab, {
      cp: { log: capturingLog(lines) },
      config: { limits: { refusalLogIntervalMs: 60_000, eventBurst: 1000 } },
    })
    const a2 = await t.agent('h2')
    // h2 waits in wave 2 (Pending): a completed activation is refused, every time.
    const refused = (seq: number) =>
      a2.send('POST', '/v1/agent/events', {
        hostname: 'h2',
        rolloutId: rid,
        event: {
          kind: 'ActivationCompleted',
          seq,
          observedCurrentClosure: closureOf('h2'),
          exitCode: 0,
          completedAt: iso(T0 + 62_000),
        },
      })
    for (let seq = 1; seq <= 50; seq++) expect((await refused(seq)).status).toBe(409)
    const refusals = () => lines.filter((l) => l['msg'] === 'agent event refused')
    expect(refusals()).toHaveLength(1)
    t.clock.advance(60_000)
    expect((await refused(51)).status).toBe(409)
    expect(refusals()).toHaveLength(2)
    expect(refusals()[1]).toMatchObject({ host: 'h2', repeated: 49 })
    expect((await t.operator.send('GET', '/metrics')).text).toContain(
      'nixfleet_cp_log_lines_suppressed_total 49'
    )
  })
})
