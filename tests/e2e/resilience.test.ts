/**
 * End-to-end resilience: an agent killed with SIGKILL mid-switch, a control plane killed
 * mid-rollout, and a control plane whose database is deleted — the fleet finishes the rollout,
 * the event log has no gap or duplicate, and no host is activated twice.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { appendFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Lab } from '../../src/lab/lab.ts'
import {
  agentEventsOf,
  converged,
  entriesOf,
  eventsOf,
  hostsOf,
  lifecycleOf,
  logOf,
  makeLab,
  planPassAfterNow,
  rid,
  until,
} from './support.ts'

// Each scenario runs a whole fleet of processes on a loaded 2-core machine.
setDefaultTimeout(180_000)

let lab: Lab | undefined
afterEach(async () => {
  await lab?.close()
  lab = undefined
})

const stable = (hosts: { name: string; wave: number }[]) => ({
  channels: [
    {
      name: 'stable',
      soakMinutes: hosts.some((h) => h.wave > 0) ? [0, 0] : [0],
      onHealthFailure: 'halt' as const,
    },
  ],
  hosts: hosts.map((h) => ({ ...h, channel: 'stable' })),
})

/** The sequence numbers of `host`'s agent events are exactly 1..n: no gap, no duplicate. */
const expectGaplessLog = (rows: Awaited<ReturnType<typeof eventsOf>>, host: string) => {
  const seqs = agentEventsOf(rows, host).map(([s]) => s)
  expect(seqs.length).toBeGreaterThan(0)
  expect(seqs).toEqual(seqs.map((_, i) => i + 1))
}

/** Makes a closure's switch hold the host's switch lock from start to end, as NixOS's does. */
const holdSwitchLock = (l: Lab, host: string, closure: string) => {
  const system = l.hosts.get(host)!.system
  const script = join(system.storeDir, closure, 'bin', 'switch-to-configuration')
  const body = readFileSync(script, 'utf8').replace('#!/bin/sh\n', '')
  writeFileSync(script, `#!/bin/sh\nexec 9>'${system.paths.switchLock}'\nflock 9\n${body}`)
}

describe('resilience', () => {
  test('an agent killed with SIGKILL mid-switch waits for that switch after restart, then converges; one switch, no gap, no duplicate, nothing lost', async () => {
    lab = await makeLab(stable([{ name: 'web-1', wave: 0 }]))
    const l = lab
    const target = l.closure('web-1', 'r1-web-1', { kind: 'slow', delaySecs: 2 })
    holdSwitchLock(l, 'web-1', target)
    const c1 = await l.release({ 'web-1': target })
    await l.startControlPlane()
    l.startAgent('web-1')
    // Kill it once the switch has started (the closure records every switch it runs, lock held).
    await until('the switch started', () => l.switchCount('web-1', target) === 1, 30_000)
    expect(await l.stopAgent('web-1', 'SIGKILL')).toBe(137)
    // The switch goes on without it (systemd-run detaches it on a real host) and holds the lock:
    // the agent restarted now must wait for it instead of firing a second one.
    expect(l.currentClosure('web-1')).not.toBe(target)
    l.startAgent('web-1')
    await until('web-1 converged', () => converged(l, c1, ['web-1']), 30_000)
    await until('Terminal', async () => (await lifecycleOf(l, rid('stable', c1))) === 'Terminal')
    expect(logOf(l, 'agent-web-1')).toContain(
      '"msg":"recovered: resuming an interrupted activation"'
    )
    expectGaplessLog(await eventsOf(l, rid('stable', c1)), 'web-1')
    expect(l.switchCount('web-1', target)).toBe(1)
    // Whatever the killed agent had recorded was delivered, and none of it refused.
    const state = join(l.hosts.get('web-1')!.dir, 'state')
    await until(
      'the outbox drained',
      () => entriesOf(join(state, 'outbox', rid('stable', c1))).length === 0
    )
    expect(entriesOf(join(state, 'dead-letter', rid('stable', c1)))).toEqual([])
  })

  test('an agent killed again and again while its switch still runs keeps waiting for that switch and records its real outcome, never Reverted', async () => {
    lab = await makeLab({
      ...stable([{ name: 'web-1', wave: 0 }]),
      channels: [{ name: 'stable', soakMinutes: [0], onHealthFailure: 'rollback-and-halt' }],
    })
    const l = lab
    const before = l.currentClosure('web-1')
    const target = l.closure('web-1', 'r1-web-1')
    holdSwitchLock(l, 'web-1', target)
    // The switch runs (lock held, recorded) until the test opens the gate.
    const gate = join(l.hosts.get('web-1')!.dir, 'switch-gate')
    const store = l.hosts.get('web-1')!.system.storeDir
    const script = join(store, target, 'bin', 'switch-to-configuration')
    const lines = readFileSync(script, 'utf8').split('\n')
    const at = lines.findIndex((line) => line.includes('switch-log')) + 1
    lines.splice(at, 0, `while [ ! -f '${gate}' ]; do sleep 0.05; done`)
    writeFileSync(script, lines.join('\n'))
    const c1 = await l.release({ 'web-1': target })
    await l.startControlPlane()
    l.startAgent('web-1')
    await until('the switch started', () => l.switchCount('web-1', target) === 1, 30_000)
    // Three more starts, each killed once it has recovered its records.
    for (let start = 2; start <= 4; start++) {
      expect(await l.stopAgent('web-1', 'SIGKILL')).toBe(137)
      l.startAgent('web-1')
      await until(`start ${start} recovered`, () => {
        const n = logOf(l, 'agent-web-1').split('"msg":"agent started"').length - 1
        return n === start
      })
    }
    expect(l.currentClosure('web-1')).toBe(before)
    writeFileSync(gate, '')
    await until('web-1 converged', () => converged(l, c1, ['web-1']), 30_000)
    const rows = await eventsOf(l, rid('stable', c1))
    const kinds = agentEventsOf(rows, 'web-1').map(([, kind]) => kind)
    expect(kinds).not.toContain('RollbackComplete')
    expect(kinds).not.toContain('ActivationFailed')
    expect(kinds).toContain('ActivationCompleted')
    expect(l.currentClosure('web-1')).toBe(target)
    expect(l.switchCount('web-1', target)).toBe(1)
    expectGaplessLog(rows, 'web-1')
  })

  test('a full state directory stops no worker: the error is logged, counted and reported to the CP, and the agent resumes by itself once space is freed', async () => {
    lab = await makeLab(stable([{ name: 'web-1', wave: 0 }]))
    const l = lab
    // The agent's state directory on a small tmpfs of its own, which the test fills.
    const state = join(l.hosts.get('web-1')!.dir, 'state')
    mkdirSync(state, { recursive: true })
    const saved = `${state}.saved`
    cpSync(state, saved, { recursive: true })
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', state])
    expect(mount.status).toBe(0)
    try {
      cpSync(saved, state, { recursive: true })
      const c1 = await l.release({ 'web-1': l.closure('web-1', 'r1-web-1') })
      await l.startControlPlane(['--redeliver-after-secs', '1'])
      l.startAgent('web-1')
      await until('web-1 converged on r1', () => converged(l, c1, ['web-1']), 30_000)
      // Fill the disk to the last byte.
      const filler = join(state, 'filler')
      const chunk = new Uint8Array(64 * 1024)
      try {
        for (;;) appendFileSync(filler, chunk)
      } catch (e) {
        expect((e as { code?: string }).code).toBe('ENOSPC')
      }
      const c2 = await l.release({ 'web-1': l.closure('web-1', 'r2-web-1') })
      await until('the CP shows the host problem', async () => {
        const h = (await hostsOf(l))['web-1']
        const p = h?.problem as { kind: string; message: string } | null | undefined
        return p?.kind === 'agent-io-error' && p.message.includes('ENOSPC')
      })
      const log = logOf(l, 'agent-web-1')
      expect(log).toContain('"msg":"worker error; retrying after a backoff"')
      expect(log).toContain('"code":"ENOSPC"')
      // Space freed: the agent goes on by itself (no restart) and the problem clears.
      rmSync(filler)
      await until('web-1 converged on r2', () => converged(l, c2, ['web-1']), 30_000)
      await until('the problem cleared', async () => (await hostsOf(l))['web-1']?.problem === null)
      expect(logOf(l, 'agent-web-1')).toContain('"msg":"worker recovered"')
    } finally {
      await l.stopAgent('web-1', 'SIGKILL')
      spawnSync('umount', ['-l', state])
    }
  })

  test('a control plane killed with SIGKILL mid-rollout continues the rollout after restart', async () => {
    lab = await makeLab(
      stable([
        { name: 'canary', wave: 0 },
        { name: 'web-1', wave: 1 },
        { name: 'web-2', wave: 1 },
      ])
    )
    const l = lab
    const closures = Object.fromEntries(
      [...l.hosts.keys()].map((h) => [h, l.closure(h, `r1-${h}`, { kind: 'slow', delaySecs: 1 })])
    )
    const c1 = await l.release(closures)
    await l.startControlPlane()
    for (const h of l.hosts.keys()) l.startAgent(h)
    await until('canary converged', () => converged(l, c1, ['canary']), 30_000)
    const marks = new Map([...l.hosts.keys()].map((h) => [h, logOf(l, `agent-${h}`).length]))
    expect(await l.stopControlPlane('SIGKILL')).toBe(137)
    // The CP comes back once every agent has found it gone.
    await until('every agent lost the CP', () =>
      [...marks].every(([h, at]) =>
        logOf(l, `agent-${h}`).slice(at).includes('"msg":"heartbeat failed"')
      )
    )
    await l.startControlPlane()
    await until(
      'all converged after the CP restart',
      () => converged(l, c1, [...l.hosts.keys()]),
      45_000
    )
    await until('Terminal', async () => (await lifecycleOf(l, rid('stable', c1))) === 'Terminal')
    const rows = await eventsOf(l, rid('stable', c1))
    for (const h of l.hosts.keys()) {
      expectGaplessLog(rows, h)
      expect(l.switchCount(h, closures[h]!)).toBe(1)
    }
  })

  test('a control plane whose database was deleted rebuilds host states from heartbeats without re-activating anyone', async () => {
    lab = await makeLab(
      stable([
        { name: 'web-1', wave: 0 },
        { name: 'web-2', wave: 0 },
        { name: 'web-3', wave: 0 },
      ])
    )
    const l = lab
    const closures = Object.fromEntries(
      [...l.hosts.keys()].map((h) => [h, l.closure(h, `r1-${h}`)])
    )
    const c1 = await l.release(closures)
    await l.startControlPlane()
    for (const h of l.hosts.keys()) l.startAgent(h)
    await until('all converged', () => converged(l, c1, [...l.hosts.keys()]), 30_000)

    await l.stopControlPlane()
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm'])
      rmSync(join(l.layout.cpDir, f), { force: true })
    const marks = new Map([...l.hosts.keys()].map((h) => [h, logOf(l, `agent-${h}`).length]))
    const since = (h: string) => logOf(l, `agent-${h}`).slice(marks.get(h))
    await l.startControlPlane()
    await until(
      'every host known Converged again',
      async () => {
        const h = await hostsOf(l)
        return [...l.hosts.keys()].every(
          (n) =>
            h[n]?.rolloutState === 'Converged' ||
            (h[n]?.converged === true &&
              h[n]?.lastRollout?.id === rid('stable', c1) &&
              h[n]?.rolloutState == null)
        )
      },
      30_000
    )
    // The rebuilt CP may send a host it has not placed yet its dispatch again. Once it has planned
    // on the rebuilt states and every dispatch it queued was withdrawn (the host's replayed events
    // placed it first) or delivered and handled by its agent, no agent accepted one: each
    // remembers the rollout and ignores the duplicate.
    await planPassAfterNow(l)
    const count = (text: string, msg: string) => text.split(`"msg":"${msg}"`).length - 1
    await until(
      'every dispatch of the rebuilt CP withdrawn, or delivered and handled',
      async () => {
        const status = await l.api<{ dispatchQueueDepth: number }>('/v1/operator/status')
        const rows = await eventsOf(l, rid('stable', c1))
        const delivered = (h: string) =>
          rows.filter(
            (r) => r.kind === 'effect' && r.host === h && r.payload.effect === 'DispatchDelivered'
          ).length
        return (
          status.body.dispatchQueueDepth === 0 &&
          [...l.hosts.keys()].every(
            (h) =>
              count(since(h), 'duplicate dispatch ignored') +
                count(since(h), 'dispatch accepted') >=
              delivered(h)
          )
        )
      }
    )
    for (const h of l.hosts.keys()) {
      expect(count(since(h), 'dispatch accepted')).toBe(0)
      expect(l.switchCount(h, closures[h]!)).toBe(1)
      expect(l.currentClosure(h)).toBe(closures[h]!)
    }
  })
})
