/**
 * The activation pipeline (spec runtime.md §6.9, DECISIONS §3.7, §7): switch this host to a
 * target closure, or roll it back to exactly the closure it ran before, through the host's own
 * commands (configurable paths, shims in tests).
 *
 * Forward: switch lock check → `nix-store --realise <store>/<closure>` → `nix-env --profile
 * <profile> --set <path>` → switch-inhibitor check (→ `switch-to-configuration boot` and
 * Deferred) → `systemd-run --unit=nixfleet-switch --collect -- <path>/bin/switch-to-configuration
 * switch` → poll the current-system link until it names the target (budget 300 s), a third
 * closure (verify mismatch) or the runner reports a failure.
 *
 * Invariants:
 * - The switch runs outside the agent (systemd-run): the agent may be restarted by the very
 *   switch it fired, so it is never killed on agent shutdown; a restarted agent finds the link
 *   and completes or re-fires (see mutator/recovery.ts).
 * - Success is decided by the link, not by exit codes: the link naming the target is success
 *   even if the runner later reports unit failures (the reference's rule). A runner exiting
 *   non-zero before the link flips is a failure with its status and stderr tail (a foreground
 *   runner such as a test shim or `systemd-run --wait` reports the switch's own status; the
 *   real detached systemd-run exits 0 once the unit started, and the poll decides).
 * - Switch inhibitors: the target's `switch-inhibitors` file (NixOS `system.switch.inhibitors`)
 *   differing from the running system's means the change cannot be applied live; the agent
 *   then runs `switch-to-configuration boot` and reports Deferred with the differing component.
 * - Exit codes in events: the command's own status, else −1 realise/timeout/internal, −2
 *   closure signature refused by the substituter, −3 the link flipped to an unexpected closure.
 * - A host already running the target is not switched again (only the profile is corrected).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readlinkSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { SystemPaths } from './config.ts'
import { describeExit, runCommand, startCommand, tail, type CommandResult } from './exec.ts'
import type { Timers } from './timing.ts'

/** The outcome of a forward activation. */
export type ActivationOutcome =
  | { readonly kind: 'completed'; readonly observed: string }
  | { readonly kind: 'deferred'; readonly component: string }
  | {
      readonly kind: 'failed'
      readonly phase: string
      readonly exitCode: number
      readonly stderrTail: string
    }
  | { readonly kind: 'interrupted' }

/** The outcome of a rollback. */
export type RollbackOutcome =
  | { readonly kind: 'reverted'; readonly observed: string }
  | {
      readonly kind: 'failed'
      readonly phase: string
      readonly exitCode: number
      readonly stderrTail: string
    }
  | { readonly kind: 'interrupted' }

/** Budgets and paths of the pipeline. */
export type ActivationDeps = {
  readonly system: SystemPaths
  readonly switchPollMs: number
  readonly switchTimeoutMs: number
  readonly realiseTimeoutMs: number
  /** The clock and sleep the switch deadline runs on (`systemTimers` in production). */
  readonly timers: Timers
  /** Cancels the pipeline (agent shutdown); a fired switch keeps running. */
  readonly signal?: AbortSignal | undefined
}

/** Exit code: realise failed, switch timed out, or an internal error (reference −1). */
export const EXIT_GENERIC = -1
/** Exit code: the substituter refused the closure's signatures (reference −2). */
export const EXIT_SIGNATURE = -2
/** Exit code: the current-system link flipped to an unexpected closure (reference −3). */
export const EXIT_VERIFY_MISMATCH = -3

// The stderr patterns by which nix reports a closure whose signatures it does not trust.
const SIGNATURE_RE =
  /lacks a valid signature|no signature is trusted|is not signed by any of the keys|no signatures matched|signature mismatch|untrusted signature/i

// The local commands other than realise and the switch (nix-env --set, flock, the boot action)
// are local metadata updates; two minutes covers a slow disk without hanging a rollout.
const LOCAL_COMMAND_TIMEOUT_MS = 120_000
// How long a foreground switch runner may outlive the poll deadline before it is killed anyway
// (the poll loop kills it at the deadline; this only covers a loop that stopped polling).
const RUNNER_BACKSTOP_MS = 10_000
// The start-up lock probe runs on the mutator's thread: flock answers at once, 5 s is a backstop.
const SWITCH_LOCK_PROBE_MS = 5_000

/** The closure basename the current-system link names, or `undefined`. */
export function readCurrentClosure(currentSystem: string): string | undefined {
  try {
    const target = readlinkSync(currentSystem)
    const name = basename(target.replace(/\/+$/, ''))
    return name === '' ? undefined : name
  } catch {
    return undefined
  }
}

function failed(phase: string, exitCode: number, stderrTail: string) {
  return { kind: 'failed' as const, phase, exitCode, stderrTail }
}

function commandFailure(phase: string, name: string, r: CommandResult, timeoutMs: number) {
  const why = describeExit(name, r, timeoutMs)
  const t = tail(r.stderr)
  return failed(phase, r.exitCode ?? EXIT_GENERIC, t ? `${why}\n${t}` : why)
}

/** Whether a switch-to-configuration is running (its lock is held by another process). */
export async function switchLockHeld(deps: ActivationDeps): Promise<boolean> {
  if (!existsSync(deps.system.switchLock)) return false
  const r = await runCommand(
    [deps.system.flock, '--nonblock', '--shared', deps.system.switchLock, 'true'],
    {
      timeoutMs: LOCAL_COMMAND_TIMEOUT_MS,
    }
  )
  // flock exits 1 when the lock is held; a missing flock binary cannot prove it is held.
  return r.spawnError === undefined && r.exitCode !== 0
}

/**
 * `switchLockHeld` without waiting, for start-up recovery (one short local command): whether a
 * switch fired before the agent restarted is still running.
 */
export function switchLockHeldNow(system: SystemPaths): boolean {
  if (!existsSync(system.switchLock)) return false
  const r = spawnSync(system.flock, ['--nonblock', '--shared', system.switchLock, 'true'], {
    stdio: 'ignore',
    timeout: SWITCH_LOCK_PROBE_MS,
  })
  return r.error === undefined && r.status !== 0 && r.status !== null
}

/** The component whose switch inhibitor differs between the running system and `target`. */
export function inhibitedComponent(currentSystem: string, targetPath: string): string | undefined {
  const read = (dir: string): string | undefined => {
    try {
      return readFileSync(join(dir, 'switch-inhibitors'), 'utf8')
    } catch {
      return undefined
    }
  }
  const next = read(targetPath)
  const now = read(currentSystem)
  // Only a declared change blocks a live switch; a first system declaring inhibitors switches.
  if (next === undefined || now === undefined || next === now) return undefined
  try {
    const a = JSON.parse(now) as unknown
    const b = JSON.parse(next) as unknown
    if (
      a &&
      b &&
      typeof a === 'object' &&
      typeof b === 'object' &&
      !Array.isArray(a) &&
      !Array.isArray(b)
    ) {
      const ao = a as Record<string, unknown>
      const bo = b as Record<string, unknown>
      const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort()
      const diff = keys.find((k) => JSON.stringify(ao[k]) !== JSON.stringify(bo[k]))
      if (diff !== undefined) return diff
    }
  } catch {
    // not JSON: the files differ as a whole
  }
  return 'switch-inhibitors'
}

async function realise(deps: ActivationDeps, storePath: string, closure: string) {
  const r = await runCommand([deps.system.nixStore, '--realise', storePath], {
    timeoutMs: deps.realiseTimeoutMs,
    signal: deps.signal,
  })
  if (deps.signal?.aborted) return { kind: 'interrupted' as const }
  if (r.exitCode !== 0) {
    if (SIGNATURE_RE.test(r.stderr)) {
      return failed(
        'realise',
        EXIT_SIGNATURE,
        `closure ${closure} refused by the substituter: ${tail(r.stderr, 5)}`
      )
    }
    const f = commandFailure('realise', 'nix-store --realise', r, deps.realiseTimeoutMs)
    return failed('realise', EXIT_GENERIC, `realise failed: ${f.stderrTail}`)
  }
  const printed = r.stdout.trim().split('\n').pop()?.trim()
  if (printed !== undefined && printed !== '' && basename(printed) !== closure) {
    return failed(
      'realise',
      EXIT_GENERIC,
      `realise failed: nix-store printed ${printed.slice(0, 200)}, not ${closure}`
    )
  }
  return undefined
}

async function setProfile(deps: ActivationDeps, storePath: string) {
  const r = await runCommand(
    [deps.system.nixEnv, '--profile', deps.system.systemProfile, '--set', storePath],
    {
      timeoutMs: LOCAL_COMMAND_TIMEOUT_MS,
    }
  )
  return r.exitCode === 0
    ? undefined
    : commandFailure('nix-env-set', 'nix-env --set', r, LOCAL_COMMAND_TIMEOUT_MS)
}

/** Fires `switch-to-configuration switch` through systemd-run and polls the link. */
async function fireAndPoll(
  deps: ActivationDeps,
  unit: string,
  storePath: string,
  closure: string,
  previous: string | undefined
): Promise<
  | { kind: 'completed'; observed: string }
  | { kind: 'failed'; phase: string; exitCode: number; stderrTail: string }
  | { kind: 'interrupted' }
> {
  const runner = startCommand(
    [
      deps.system.systemdRun,
      `--unit=${unit}`,
      '--collect',
      '--',
      join(storePath, 'bin', 'switch-to-configuration'),
      'switch',
    ],
    // Not tied to the agent's cancellation: the switch must outlive an agent restart. The poll
    // deadline below decides the timeout; the runner's own kill is only a backstop after it.
    { timeoutMs: deps.switchTimeoutMs + RUNNER_BACKSTOP_MS }
  )
  let exited: CommandResult | undefined
  void runner.done.then((r) => {
    exited = r
  })
  const { monotonicMs, sleep } = deps.timers
  const deadline = monotonicMs() + deps.switchTimeoutMs
  for (;;) {
    const current = readCurrentClosure(deps.system.currentSystem)
    if (current === closure) return { kind: 'completed', observed: current }
    if (current !== undefined && current !== previous) {
      return failed(
        'switch-verify',
        EXIT_VERIFY_MISMATCH,
        `current-system flipped to ${current}, expected ${closure}`
      )
    }
    if (exited && exited.exitCode !== 0) {
      return commandFailure('switch', `${unit} (systemd-run)`, exited, deps.switchTimeoutMs)
    }
    if (deps.signal?.aborted) return { kind: 'interrupted' }
    if (monotonicMs() >= deadline) {
      runner.kill()
      return failed(
        'switch-poll-timeout',
        EXIT_GENERIC,
        `current-system did not name ${closure} within ${Math.round(deps.switchTimeoutMs / 1000)} s${exited ? '' : ' (switch still running)'}`
      )
    }
    await sleep(Math.min(deps.switchPollMs, Math.max(0, deadline - monotonicMs())), deps.signal)
  }
}

/** The failure to report when another switch-to-configuration holds the lock. */
async function lockedOut(deps: ActivationDeps): Promise<ReturnType<typeof failed> | undefined> {
  if (!(await switchLockHeld(deps))) return undefined
  return failed(
    'lock',
    EXIT_GENERIC,
    `another switch-to-configuration holds ${deps.system.switchLock}`
  )
}

/** Switches this host to `closure` (a store basename). */
export async function activate(closure: string, deps: ActivationDeps): Promise<ActivationOutcome> {
  const storePath = join(deps.system.nixStoreDir, closure)
  const locked = await lockedOut(deps)
  if (locked) return locked
  const previous = readCurrentClosure(deps.system.currentSystem)
  if (previous === closure) {
    // Already running the target (e.g. a re-dispatch after a CP rebuild): only fix the profile.
    const p = await setProfile(deps, storePath)
    return p ?? { kind: 'completed', observed: closure }
  }
  const r = await realise(deps, storePath, closure)
  if (r) return r
  const p = await setProfile(deps, storePath)
  if (p) return p
  if (deps.signal?.aborted) return { kind: 'interrupted' }
  const component = inhibitedComponent(deps.system.currentSystem, storePath)
  if (component !== undefined) {
    const boot = await runCommand([join(storePath, 'bin', 'switch-to-configuration'), 'boot'], {
      timeoutMs: deps.switchTimeoutMs,
    })
    if (boot.exitCode !== 0)
      return commandFailure('boot', 'switch-to-configuration boot', boot, deps.switchTimeoutMs)
    return { kind: 'deferred', component }
  }
  return fireAndPoll(deps, 'nixfleet-switch', storePath, closure, previous)
}

/**
 * Rolls this host back to exactly `closure`, the system it ran before the switch. With
 * `mayRealise` false (a prior closure named by the CP rather than recorded by this host) the
 * closure must already be in the local store: the CP cannot make a host fetch a system.
 */
export async function rollbackTo(
  closure: string,
  deps: ActivationDeps,
  opts: { readonly mayRealise: boolean }
): Promise<RollbackOutcome> {
  const storePath = join(deps.system.nixStoreDir, closure)
  const locked = await lockedOut(deps)
  if (locked) return locked
  const previous = readCurrentClosure(deps.system.currentSystem)
  if (!existsSync(storePath)) {
    if (!opts.mayRealise) {
      return failed('realise', EXIT_GENERIC, `rollback target ${closure} is not in the local store`)
    }
    const r = await realise(deps, storePath, closure)
    if (r) return r
  }
  const p = await setProfile(deps, storePath)
  if (p) return p
  if (previous === closure) return { kind: 'reverted', observed: closure }
  const out = await fireAndPoll(deps, 'nixfleet-rollback', storePath, closure, previous)
  return out.kind === 'completed' ? { kind: 'reverted', observed: out.observed } : out
}
