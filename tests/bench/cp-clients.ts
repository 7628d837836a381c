/**
 * The simulated fleet of `bun run bench:cp`, spread over K load processes (`cp-load.ts`): agent
 * i goes to process i mod K, so each process holds about N/K connections (one process may hold
 * at most 20,000 descriptors on these machines). The orchestrator talks to the fleet as one:
 * commands go to every process, dispatch messages of all of them arrive in one list, and the
 * heartbeat report merges every process's raw latency samples before taking percentiles, so
 * K = 1 and K > 1 report the same figures.
 * Invariant: the load processes are tracked (`cp-children.ts`) and exit on their own when their
 * stdin closes or their lifetime is over.
 */
import type { Subprocess } from 'bun'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpuSeconds, stopChild, track } from './cp-children.ts'

/** What one load process is given (its share of the fleet). */
export type LoadConfig = {
  /** Per agent (aligned with `hosts`), the control planes' ports in the order it tries them. */
  ports: number[][]
  ca: string
  key: string
  certs: string[]
  hosts: string[]
  closures: Record<string, string>
  heartbeatSecs: number
  connectConcurrency: number
  /** The process exits after this long, whatever happens. */
  maxSeconds: number
}

/** One load process's `report` answer. */
export type HbReport = {
  type: 'hb'
  /** Heartbeat round trips while measuring, ms. */
  samples: number[]
  /** The port each sample's heartbeat went to (aligned with `samples`). */
  samplePorts: number[]
  errors: number
  heartbeats: number
  reconnects: number
  /** [wall-clock 100 ms slot, heartbeats sent in it]. */
  slots: [number, number][]
}

/** The fleet's heartbeat figures over the measured window. */
export type HbSummary = {
  count: number
  p50: number
  p99: number
  max: number
  errors: number
  heartbeats: number
  reconnects: number
  burstMaxPer100ms: number
  burstMeanPer100ms: number
  /** The same percentiles per server port (with replicas, per replica). */
  byPort: Map<number, Percentiles>
}

/** A dispatch one simulated agent received. */
export type DispatchSeen = { host: string; rollout: string; wave: number; at: number }

type Msg = Record<string, unknown>

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Heartbeat latency percentiles over the samples of one group (one server's). */
export type Percentiles = { count: number; p50: number; p99: number }

/** The percentiles of the samples per server port, over every process's reports. */
export function byPort(reports: readonly HbReport[]): Map<number, Percentiles> {
  const groups = new Map<number, number[]>()
  for (const r of reports)
    r.samples.forEach((ms, i) => {
      const port = r.samplePorts[i]!
      const g = groups.get(port) ?? []
      g.push(ms)
      groups.set(port, g)
    })
  return new Map(
    [...groups].map(([port, g]) => {
      const sorted = g.sort((a, b) => a - b)
      return [
        port,
        { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) },
      ]
    })
  )
}

/** Merges the processes' reports: percentiles over all samples, slots added up by time. */
export function mergeReports(reports: readonly HbReport[]): HbSummary {
  const sorted = reports.flatMap((r) => r.samples).sort((a, b) => a - b)
  const slots = new Map<number, number>()
  for (const r of reports) for (const [k, n] of r.slots) slots.set(k, (slots.get(k) ?? 0) + n)
  const sum = (f: (r: HbReport) => number): number => reports.reduce((a, r) => a + f(r), 0)
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
    errors: sum((r) => r.errors),
    heartbeats: sum((r) => r.heartbeats),
    reconnects: sum((r) => r.reconnects),
    burstMaxPer100ms: Math.max(0, ...slots.values()),
    burstMeanPer100ms:
      slots.size === 0 ? 0 : [...slots.values()].reduce((a, b) => a + b, 0) / slots.size,
    byPort: byPort(reports),
  }
}

/**
 * The ports agent `i` tries, in order, out of the replicas' `ports`: it starts at replica
 * i mod R, and the others follow rotated by ⌊i / R⌋, so the agents of a replica that dies
 * spread evenly over the survivors instead of all landing on its neighbour (whose descriptors
 * would not hold them).
 */
export function portOrder(ports: readonly number[], i: number): number[] {
  const first = i % ports.length
  const rest = ports.filter((_, j) => j !== first)
  const k = rest.length === 0 ? 0 : Math.floor(i / ports.length) % rest.length
  return [ports[first]!, ...rest.slice(k), ...rest.slice(0, k)]
}

/** One load process and the JSON lines it has written that nobody has taken yet. */
class LoadProcess {
  readonly messages: Msg[] = []
  private readonly waiters: (() => void)[] = []

  constructor(readonly proc: Subprocess<'pipe', 'pipe', 'inherit'>) {
    void this.pump()
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder()
    let buf = ''
    for await (const chunk of this.proc.stdout) {
      buf += decoder.decode(chunk, { stream: true })
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.messages.push(JSON.parse(buf.slice(0, nl)) as Msg)
        buf = buf.slice(nl + 1)
      }
      for (const w of this.waiters.splice(0)) w()
    }
    for (const w of this.waiters.splice(0)) w()
  }

  /** The first message of `type` (removed from the list), within `timeoutMs`. */
  async take(type: string, timeoutMs: number): Promise<Msg> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = this.messages.findIndex((x) => x['type'] === type)
      if (i >= 0) return this.messages.splice(i, 1)[0]!
      if (this.proc.exitCode !== null)
        throw new Error(`load process exited (${this.proc.exitCode}) before '${type}'`)
      if (Date.now() > deadline)
        throw new Error(`load process: no '${type}' within ${timeoutMs} ms`)
      await Promise.race([
        new Promise<void>((r) => this.waiters.push(r)),
        Bun.sleep(Math.min(250, Math.max(1, deadline - Date.now()))),
      ])
    }
  }

  send(cmd: string): void {
    void this.proc.stdin.write(`${cmd}\n`)
    void this.proc.stdin.flush()
  }
}

/** The simulated fleet over `processes` load processes. */
export class LoadClients {
  private constructor(private readonly procs: readonly LoadProcess[]) {}

  /**
   * Starts the load processes against `cfg.ports`, each with agents i ≡ k (mod processes); the
   * connect concurrency is shared out so the whole fleet opens as many handshakes at once as one
   * process would. Config files go to `dir` as `<label>-<k>.json`.
   */
  static start(cfg: LoadConfig, processes: number, dir: string, label: string): LoadClients {
    const procs: LoadProcess[] = []
    for (let k = 0; k < processes; k++) {
      const mine = (_: unknown, i: number): boolean => i % processes === k
      const hosts = cfg.hosts.filter(mine)
      const share: LoadConfig = {
        ...cfg,
        certs: cfg.certs.filter(mine),
        ports: cfg.ports.filter(mine),
        hosts,
        closures: Object.fromEntries(hosts.map((h) => [h, cfg.closures[h]!])),
        connectConcurrency: Math.max(1, Math.ceil(cfg.connectConcurrency / processes)),
      }
      const file = join(dir, `${label}-${k}.json`)
      writeFileSync(file, JSON.stringify(share))
      const proc = track(
        Bun.spawn([process.execPath, join(import.meta.dir, 'cp-load.ts'), file], {
          stdin: 'pipe',
          stdout: 'pipe',
          stderr: 'inherit',
        })
      )
      procs.push(new LoadProcess(proc))
    }
    return new LoadClients(procs)
  }

  /**
   * Waits until every process has connected its agents; resolves with a line saying how long
   * the slowest one took and how many handshakes had to be retried.
   */
  async connected(timeoutMs: number): Promise<string> {
    const ms = await Promise.all(this.procs.map((p) => p.take('connected', timeoutMs)))
    const slowest = Math.max(...ms.map((m) => Number(m['ms'])))
    const retries = ms.reduce((a, m) => a + Number(m['retries']), 0)
    return `${slowest} ms${retries > 0 ? ` (${retries} handshakes retried)` : ''}`
  }

  /** Starts a measurement window in every process. */
  measure(): void {
    for (const p of this.procs) p.send('measure')
  }

  /** Ends the window and merges the processes' figures. */
  async report(timeoutMs: number): Promise<HbSummary> {
    for (const p of this.procs) p.send('report')
    const reports = await Promise.all(this.procs.map((p) => p.take('hb', timeoutMs)))
    return mergeReports(reports as HbReport[])
  }

  /** Every dispatch received since the last call (removed from the processes' lists). */
  takeDispatches(): DispatchSeen[] {
    const out: DispatchSeen[] = []
    for (const p of this.procs) {
      for (let i = 0; i < p.messages.length;) {
        const m = p.messages[i]!
        if (m['type'] !== 'dispatch') {
          i++
          continue
        }
        p.messages.splice(i, 1)
        out.push({
          host: m['host'] as string,
          rollout: m['rollout'] as string,
          wave: m['wave'] as number,
          at: m['at'] as number,
        })
      }
    }
    return out
  }

  /** Drops every message not yet taken. */
  clear(): void {
    for (const p of this.procs) p.messages.splice(0)
  }

  /** CPU seconds used so far by all load processes together. */
  cpuSeconds(): number {
    return this.procs.reduce((a, p) => a + cpuSeconds(p.proc.pid), 0)
  }

  /** Stops every process (`stop`; SIGTERM after 5 s, SIGKILL 5 s later). */
  async stop(): Promise<void> {
    for (const p of this.procs) p.send('stop')
    await Promise.all(
      this.procs.map(async (p) => {
        await Promise.race([p.proc.exited, Bun.sleep(5_000)])
        await stopChild(p.proc, 5_000)
      })
    )
  }
}
