/**
 * End-to-end: agents given several control planes (`--control-plane-url` repeated). An agent whose
 * first URL has nothing behind it enrolls and converges through the second; and when its control
 * plane is killed (SIGKILL) in the middle of a switch and a second control-plane process takes
 * over the same database on the agent's second URL, the agents move there by themselves: the
 * events they queued meanwhile reach it, the long-poll of the last wave gets its dispatch from
 * it, and the rollout completes with no gap, no duplicate and no host activated twice.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import type { Lab } from '../../src/lab/lab.ts'
import { parseLogLine } from '../../src/runtime/log.ts'
import { freePort } from '../support/fixtures.ts'
import * as e2e from './support.ts'

const { agentEventsOf, converged, entriesOf, eventsOf, lifecycleOf, logOf, rid, until } = e2e

// Each scenario runs a fleet of processes on a loaded 2-core machine.
setDefaultTimeout(180_000)
const env = e2e.labPerTest()

const urls = (...u: string[]) => u.flatMap((x) => ['--control-plane-url', x])
const cpUrl = (port: number) => `https://127.0.0.1:${port}`

/** The control-plane switches an agent logged (from, to, reason). */
const switchesOf = (l: Lab, host: string) =>
  logOf(l, `agent-${host}`)
    .split('\n')
    .map((line) => parseLogLine(line)?.record)
    .filter((r) => r?.['msg'] === 'control plane switch')

describe('several control planes', () => {
  test('an agent whose first control plane has nothing behind it enrolls and converges through the second', async () => {
    const l = (env.lab = await e2e.makeLab({
      channels: [{ name: 'stable', soakMinutes: [0], onHealthFailure: 'halt' }],
      hosts: [{ name: 'web-1', wave: 0, channel: 'stable' }],
    }))
    const c1 = await l.release({ 'web-1': l.closure('web-1', 'r1-web-1') })
    await l.startControlPlane()
    const dead = cpUrl(await freePort())
    l.startAgent('web-1', urls(dead, cpUrl(l.port)))
    await until('web-1 converged', () => converged(l, c1, ['web-1']), 60_000)
    await until('Terminal', async () => (await lifecycleOf(l, rid('stable', c1))) === 'Terminal')
    expect(logOf(l, 'agent-web-1')).toContain('"msg":"enrolled"')
    // It left the dead URL once and stayed on the live one.
    const moves = switchesOf(l, 'web-1')
    expect(moves).toHaveLength(1)
    expect(moves[0]).toMatchObject({ from: dead, to: cpUrl(l.port) })
    expect(String(moves[0]?.['reason'])).toStartWith('connection failed')
  })

  test('a control plane killed mid-switch: the agents move to a second process on the same database, deliver what they queued, and the rollout completes', async () => {
    const l = (env.lab = await e2e.makeLab({
      channels: [{ name: 'stable', soakMinutes: [0, 0, 0], onHealthFailure: 'halt' }],
      hosts: [
        { name: 'canary', wave: 0, channel: 'stable' },
        { name: 'web-1', wave: 1, channel: 'stable' },
        { name: 'web-2', wave: 2, channel: 'stable' },
      ],
    }))
    const closures = Object.fromEntries(
      [...l.hosts.keys()].map((h) => [h, l.closure(h, `r1-${h}`, { kind: 'slow', delaySecs: 3 })])
    )
    const c1 = await l.release(closures)
    const first = await l.startControlPlane()
    const second = await freePort()
    for (const h of l.hosts.keys()) l.startAgent(h, urls(cpUrl(first), cpUrl(second)))
    await until('canary converged', () => converged(l, c1, ['canary']), 60_000)
    // Kill the control plane while web-1 switches: its outcome has nobody to go to.
    await until('web-1 switching', () => l.switchCount('web-1', closures['web-1']!) === 1, 60_000)
    expect(await l.stopControlPlane('SIGKILL')).toBe(137)
    const outbox = join(l.hosts.get('web-1')!.dir, 'state', 'outbox', rid('stable', c1))
    await until('web-1 queued events no control plane took', () => entriesOf(outbox).length > 0)
    await until('every agent moved off the killed control plane', () =>
      [...l.hosts.keys()].every((h) =>
        switchesOf(l, h).some((s) => s?.['from'] === cpUrl(first) && s['to'] === cpUrl(second))
      )
    )
    // A second process on the same state, at the agents' second URL.
    expect(await l.startControlPlane(['--listen', `127.0.0.1:${second}`])).toBe(second)
    await until('the queued events delivered', () => entriesOf(outbox).length === 0, 60_000)
    await until(
      'all converged through the second control plane',
      () => converged(l, c1, [...l.hosts.keys()]),
      90_000
    )
    await until('Terminal', async () => (await lifecycleOf(l, rid('stable', c1))) === 'Terminal')
    const rows = await eventsOf(l, rid('stable', c1))
    for (const h of l.hosts.keys()) {
      // Every event once, in order: nothing lost in the move, nothing applied twice.
      const seqs = agentEventsOf(rows, h).map(([s]) => s)
      expect(seqs.length).toBeGreaterThan(0)
      expect(seqs).toEqual(seqs.map((_, i) => i + 1))
      expect(l.switchCount(h, closures[h]!)).toBe(1)
      expect(
        entriesOf(join(l.hosts.get(h)!.dir, 'state', 'dead-letter', rid('stable', c1)))
      ).toEqual([])
    }
    // web-1's outcome, recorded while no control plane answered, is in the log.
    expect(agentEventsOf(rows, 'web-1').map(([, k]) => k)).toContain('ActivationCompleted')
  })
})
