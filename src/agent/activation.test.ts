/**
 * The activation pipeline against a fake NixOS system of real files and shell shims: success,
 * non-zero exits at every step, verify mismatch, timeout, deferral, lock held and rollback.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { existsSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import {
  activate,
  EXIT_SIGNATURE,
  EXIT_VERIFY_MISMATCH,
  inhibitedComponent,
  readCurrentClosure,
  rollbackTo,
  type ActivationDeps,
} from './activation.ts'
import { fakeSystem, removeDir, tempDir, type FakeSystem } from '../../tests/support/fixtures.ts'
import { steppingTimers, systemTimers } from './timing.ts'

let dir = ''
let sys: FakeSystem
let deps: ActivationDeps

beforeEach(() => {
  dir = tempDir()
  sys = fakeSystem(dir)
  deps = {
    system: sys.paths,
    switchPollMs: 20,
    switchTimeoutMs: 3_000,
    realiseTimeoutMs: 5_000,
    timers: systemTimers,
  }
})
afterEach(() => removeDir(dir))

describe('activate', () => {
  test('switches: realise, profile, systemd-run, link names the target', async () => {
    const target = sys.closure('v2')
    expect(await activate(target, deps)).toEqual({ kind: 'completed', observed: target })
    expect(readCurrentClosure(sys.paths.currentSystem)).toBe(target)
    expect(readlinkSync(sys.paths.systemProfile)).toBe(join(sys.storeDir, target))
  })

  test('a switch script exiting non-zero fails with its status and stderr tail', async () => {
    const target = sys.closure('v2', {
      behavior: { kind: 'fail', exitCode: 4, stderr: 'unit nginx.service failed' },
    })
    const out = await activate(target, deps)
    expect(out).toMatchObject({ kind: 'failed', phase: 'switch', exitCode: 4 })
    expect(out.kind === 'failed' && out.stderrTail).toContain('unit nginx.service failed')
  })

  test('a realise failure is -1 with the reason, a refused signature is -2', async () => {
    const target = sys.closure('v2')
    sys.failRealise('error: cannot connect to the cache')
    const a = await activate(target, deps)
    expect(a).toMatchObject({ kind: 'failed', phase: 'realise', exitCode: -1 })
    expect(a.kind === 'failed' && a.stderrTail).toContain('cannot connect to the cache')
    sys.failRealise(`error: path '/nix/store/x' lacks a valid signature`)
    expect(await activate(target, deps)).toMatchObject({ kind: 'failed', exitCode: EXIT_SIGNATURE })
    expect(readCurrentClosure(sys.paths.currentSystem)).not.toBe(target)
  })

  test('a closure missing from the store fails to realise', async () => {
    expect(
      await activate('00000000000000000000000000000000-nixos-system-missing', deps)
    ).toMatchObject({ kind: 'failed', phase: 'realise' })
  })

  test('a link flipped to a third closure is a verify mismatch (-3)', async () => {
    const other = sys.closure('other')
    const target = sys.closure('v2', { behavior: { kind: 'flip-to', closure: other } })
    expect(await activate(target, deps)).toMatchObject({
      kind: 'failed',
      phase: 'switch-verify',
      exitCode: EXIT_VERIFY_MISMATCH,
    })
  })

  test('a hanging switch times out at the deadline (on the injected clock) and is killed', async () => {
    const target = sys.closure('v2', { behavior: { kind: 'hang' } })
    const timers = steppingTimers()
    const out = await activate(target, {
      ...deps,
      switchPollMs: 1_000,
      switchTimeoutMs: 300_000,
      timers,
    })
    expect(out).toMatchObject({ kind: 'failed', phase: 'switch-poll-timeout', exitCode: -1 })
    expect(out.kind === 'failed' && out.stderrTail).toContain('within 300 s')
    expect(timers.elapsed()).toBe(300_000)
  })

  test('a differing switch inhibitor defers: boot action, no live switch', async () => {
    const cur = sys.closure('cur', {
      inhibitors: JSON.stringify({ dbus: 'dbus-1', systemd: 'systemd-255' }),
    })
    sys.setCurrent(cur)
    const target = sys.closure('v2', {
      inhibitors: JSON.stringify({ dbus: 'dbus-1', systemd: 'systemd-256' }),
    })
    expect(await activate(target, deps)).toEqual({ kind: 'deferred', component: 'systemd' })
    expect(readCurrentClosure(sys.paths.currentSystem)).toBe(cur)
    expect(existsSync(join(sys.storeDir, target, 'booted'))).toBe(true)
    expect(readlinkSync(sys.paths.systemProfile)).toBe(join(sys.storeDir, target))
  })

  test('equal inhibitors, or none on one side, switch live', () => {
    const a = sys.closure('a', { inhibitors: '{"kernel":"6.6"}' })
    const b = sys.closure('b', { inhibitors: '{"kernel":"6.6"}' })
    const c = sys.closure('c')
    expect(inhibitedComponent(join(sys.storeDir, a), join(sys.storeDir, b))).toBeUndefined()
    expect(inhibitedComponent(join(sys.storeDir, c), join(sys.storeDir, b))).toBeUndefined()
    expect(
      inhibitedComponent(
        join(sys.storeDir, a),
        join(sys.storeDir, sys.closure('d', { inhibitors: 'opaque' }))
      )
    ).toBe('switch-inhibitors')
  })

  test('refuses to switch while another switch holds the lock', async () => {
    const target = sys.closure('v2')
    // The shell takes the lock on fd 9 and then becomes `sleep`, so killing it releases the lock.
    const holder = Bun.spawn(
      ['sh', '-c', 'exec 9>"$0"; flock 9; exec sleep 30', sys.paths.switchLock],
      {
        stdout: 'ignore',
        stderr: 'ignore',
      }
    )
    try {
      // Wait until flock holds it (a non-blocking probe fails).
      for (let i = 0; i < 200; i++) {
        const probe = Bun.spawnSync([
          'flock',
          '--nonblock',
          '--shared',
          sys.paths.switchLock,
          'true',
        ])
        if (probe.exitCode !== 0) break
        await Bun.sleep(10)
      }
      expect(await activate(target, deps)).toMatchObject({ kind: 'failed', phase: 'lock' })
    } finally {
      holder.kill()
    }
  })

  test('a host already on the target is not switched again', async () => {
    const target = sys.closure('v2', {
      behavior: { kind: 'fail', exitCode: 9, stderr: 'must not run' },
    })
    sys.setCurrent(target)
    expect(await activate(target, deps)).toEqual({ kind: 'completed', observed: target })
  })

  test('a failing nix-env is reported with its phase', async () => {
    const target = sys.closure('v2')
    const broken = { ...deps, system: { ...deps.system, nixEnv: '/bin/false' } }
    expect(await activate(target, broken)).toMatchObject({
      kind: 'failed',
      phase: 'nix-env-set',
      exitCode: 1,
    })
  })
})

describe('rollbackTo', () => {
  test('switches back to exactly the prior closure', async () => {
    const prior = readCurrentClosure(sys.paths.currentSystem)!
    const bad = sys.closure('bad')
    sys.setCurrent(bad)
    expect(await rollbackTo(prior, deps, { mayRealise: true })).toEqual({
      kind: 'reverted',
      observed: prior,
    })
    expect(readCurrentClosure(sys.paths.currentSystem)).toBe(prior)
    expect(readlinkSync(sys.paths.systemProfile)).toBe(join(sys.storeDir, prior))
  })

  test('a prior closure not in the store is not fetched when the CP named it', async () => {
    const out = await rollbackTo('11111111111111111111111111111111-nixos-system-gone', deps, {
      mayRealise: false,
    })
    expect(out).toMatchObject({ kind: 'failed', phase: 'realise' })
  })

  test('a failing rollback switch is reported', async () => {
    const prior = sys.closure('prior', { behavior: { kind: 'fail', exitCode: 3, stderr: 'boom' } })
    sys.setCurrent(sys.closure('bad'))
    expect(await rollbackTo(prior, deps, { mayRealise: true })).toMatchObject({
      kind: 'failed',
      exitCode: 3,
    })
  })
})
