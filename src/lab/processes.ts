/**
 * Child processes of a lab (one control plane, many agents): spawned from the `nixfleet`
 * binary with output appended to a log file per process, stopped with SIGTERM or SIGKILL, and
 * all reaped when the lab closes — pass or fail, no process is left behind.
 */
import { closeSync, openSync } from 'node:fs'

/** A supervised child process. */
export type Child = {
  readonly name: string
  readonly pid: number
  readonly logPath: string
  /** Resolves with the exit code (or 128 + signal number) when the process ends. */
  readonly exited: Promise<number>
  isRunning(): boolean
  /** Sends `signal`; resolves when the process has exited (SIGKILL after `graceMs`). */
  stop(signal?: 'SIGTERM' | 'SIGKILL', graceMs?: number): Promise<number>
}

const SIGNALS: Record<string, number> = { SIGTERM: 15, SIGKILL: 9, SIGINT: 2 }

const everyChild = new Set<{ kill(signal: number): void }>()
let exitHookInstalled = false

/** Spawns and tracks child processes; `stopAll` ends every one still running. */
export class Supervisor {
  private readonly children = new Set<Child>()

  constructor() {
    // Whatever happens to this process, no lab process may outlive it.
    if (!exitHookInstalled) {
      exitHookInstalled = true
      process.on('exit', () => {
        for (const p of everyChild) p.kill(9)
      })
    }
  }

  /** Starts `argv` with stdout and stderr appended to `logPath`. */
  spawn(
    name: string,
    argv: readonly string[],
    logPath: string,
    env?: Record<string, string>
  ): Child {
    const fd = openSync(logPath, 'a')
    let running = true
    const proc = Bun.spawn([...argv], {
      stdin: 'ignore',
      stdout: fd,
      stderr: fd,
      env: { ...process.env, ...env },
    })
    closeSync(fd)
    everyChild.add(proc)
    const exited = proc.exited.then((code) => {
      running = false
      everyChild.delete(proc)
      this.children.delete(child)
      return proc.signalCode ? 128 + (SIGNALS[proc.signalCode] ?? 0) : code
    })
    const child: Child = {
      name,
      pid: proc.pid,
      logPath,
      exited,
      isRunning: () => running,
      async stop(signal = 'SIGTERM', graceMs = 5_000) {
        if (!running) return exited
        proc.kill(signal)
        if (signal !== 'SIGKILL') {
          const timer = setTimeout(() => running && proc.kill('SIGKILL'), graceMs)
          const code = await exited
          clearTimeout(timer)
          return code
        }
        return exited
      },
    }
    this.children.add(child)
    return child
  }

  /** Stops every running child (SIGTERM, then SIGKILL after `graceMs`). */
  async stopAll(graceMs = 3_000): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop('SIGTERM', graceMs)))
  }
}
