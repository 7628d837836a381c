/**
 * Running the host's commands (nix-store, nix-env, systemd-run, flock, probe commands) with a
 * deadline, capturing exit status and the tail of their output for events and logs.
 * Invariants: a command never outlives its deadline — on timeout or cancellation its whole
 * process group is killed (a shell's children included), so no reader waits on an orphan's
 * pipe; output kept in memory is capped; spawn failures are results, never throws.
 */
import { spawn } from 'node:child_process'

/** The outcome of a command. `exitCode` is null when it was killed or never started. */
export type CommandResult = {
  readonly exitCode: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
  /** Why the command could not be started (ENOENT, EACCES), if so. */
  readonly spawnError: string | undefined
}

/** A running command. */
export type RunningCommand = {
  readonly done: Promise<CommandResult>
  /** Kills the command's process group. */
  kill(): void
}

// Commands' output is only used for the path they print and the tail of their errors; 256 KiB
// holds a verbose nix-store realise log tail without letting a chatty command grow the heap.
const MAX_CAPTURE_BYTES = 256 * 1024

/** The last `lines` lines of `text`, at most `maxChars` characters (for stderr tails). */
export function tail(text: string, lines = 20, maxChars = 2000): string {
  const t = text.replace(/\s+$/, '').split('\n').slice(-lines).join('\n')
  return t.length > maxChars ? t.slice(t.length - maxChars) : t
}

/** Starts `argv` in its own process group; `done` resolves when it exits or is killed. */
export function startCommand(
  argv: readonly string[],
  opts: {
    readonly timeoutMs: number
    readonly signal?: AbortSignal | undefined
    readonly env?: Readonly<Record<string, string>> | undefined
  }
): RunningCommand {
  const [cmd, ...args] = argv
  let timedOut = false
  let killed = false
  let stdout = ''
  let stderr = ''
  let spawnError: string | undefined
  const child = (() => {
    try {
      return spawn(cmd ?? '', args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
      })
    } catch (e) {
      spawnError = e instanceof Error ? e.message : String(e)
      return undefined
    }
  })()
  const killGroup = (): void => {
    if (!child || child.pid === undefined || killed) return
    killed = true
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  if (!child) {
    return {
      done: Promise.resolve({ exitCode: null, signal: null, stdout, stderr, timedOut, spawnError }),
      kill: () => {},
    }
  }
  const append = (which: 'out' | 'err', chunk: Buffer): void => {
    const s = chunk.toString('utf8')
    if (which === 'out') stdout = (stdout + s).slice(-MAX_CAPTURE_BYTES)
    else stderr = (stderr + s).slice(-MAX_CAPTURE_BYTES)
  }
  child.stdout?.on('data', (c: Buffer) => append('out', c))
  child.stderr?.on('data', (c: Buffer) => append('err', c))
  const timer = setTimeout(() => {
    timedOut = true
    killGroup()
  }, opts.timeoutMs)
  const onAbort = (): void => killGroup()
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  const done = new Promise<CommandResult>((resolve) => {
    child.once('error', (e) => {
      spawnError = (e as { code?: string }).code ?? e.message
    })
    child.once('close', (code, sig) => {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      resolve({ exitCode: code, signal: sig, stdout, stderr, timedOut, spawnError })
    })
  })
  return { done, kill: killGroup }
}

/** Runs `argv` to completion (or its deadline). */
export function runCommand(
  argv: readonly string[],
  opts: {
    readonly timeoutMs: number
    readonly signal?: AbortSignal | undefined
    readonly env?: Readonly<Record<string, string>> | undefined
  }
): Promise<CommandResult> {
  return startCommand(argv, opts).done
}

/** One line describing how a command ended, for failure reasons. */
export function describeExit(name: string, r: CommandResult, timeoutMs: number): string {
  if (r.spawnError !== undefined) return `${name} could not be started (${r.spawnError})`
  if (r.timedOut) return `${name} did not finish within ${Math.round(timeoutMs / 1000)} s`
  if (r.exitCode === null) return `${name} was killed by ${r.signal ?? 'a signal'}`
  return `${name} exited with status ${r.exitCode}`
}
