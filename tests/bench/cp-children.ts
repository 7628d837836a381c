/**
 * The child processes of `bun run bench:cp` (control plane, floor server, load processes) and
 * their cleanup. Invariant: every child spawned through `track` is killed when the
 * benchmark exits, whether it finished, threw or was interrupted, so a failed run leaves no
 * server holding a port or ten thousand sockets.
 */
import type { Subprocess } from 'bun'
import { readFileSync } from 'node:fs'

const live = new Set<Subprocess>()

/** Kills every child still running (SIGKILL: the benchmark is over, nothing to drain). */
function killAll(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  live.clear()
}

process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAll()
    process.exit(130)
  })
}

/** `p`, to be killed when this process exits: `track(Bun.spawn(…))`. */
export function track<P extends Subprocess>(p: P): P {
  live.add(p)
  void p.exited.then(() => live.delete(p))
  return p
}

/** Stops `p` with SIGTERM and waits for it, SIGKILL after `graceMs`; resolves with its exit code. */
export async function stopChild(p: Subprocess, graceMs = 10_000): Promise<number> {
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM')
  const timer = setTimeout(() => p.kill('SIGKILL'), graceMs)
  const code = await p.exited
  clearTimeout(timer)
  return code
}

/** CPU seconds (user + system) used so far by process `pid`, from /proc. */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The resident set of process `pid` in MB, from /proc. */
export function rssMb(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) / 1024
}
