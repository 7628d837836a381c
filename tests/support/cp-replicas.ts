/**
 * Control-plane replicas of a lab fleet on one PostgreSQL, for the end-to-end replica scenario:
 * each replica is a `nixfleet control-plane` process with the lab's own flags (CA, trust,
 * release directory, timings) but `--database postgres://…`, `--database-password-file` and
 * `--replica-id NAME`, listening on a port the test chose (so agents can list every replica's
 * URL before any runs, and a killed replica can come back at the same address). The lab's own
 * `startControlPlane` names a SQLite file; these do not use it.
 * Invariants: each replica logs to `<lab logs>/cp-<name>.log` (appended across restarts) and
 * has its own issuance audit log, as separate hosts would; `close()` stops every process
 * started here, and the supervisor kills any left when the test process exits.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Lab } from '../../src/lab/lab.ts'
import { type Child, Supervisor } from '../../src/lab/processes.ts'
import { parseLogLine } from '../../src/runtime/log.ts'

/** The database every replica shares (`startPostgres()`'s `url` and `passwordFile`). */
export type ReplicaDatabase = { readonly url: string; readonly passwordFile: string }

/** What `/v1/operator/status` says of the replica that answered. */
export type ReplicaStatus = { id: string; role: 'leader' | 'follower'; epoch: number }

/** The value of one series (`name` or `name{labels}`) in Prometheus text; undefined when absent. */
export function seriesValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    const sp = line.lastIndexOf(' ')
    if (sp > 0 && line.slice(0, sp) === series) return Number(line.slice(sp + 1))
  }
  return undefined
}

/** The replicas of one lab, by name. */
export class LabReplicas {
  private readonly sup = new Supervisor()
  private readonly children = new Map<string, Child>()
  private readonly ports = new Map<string, number>()

  constructor(
    private readonly lab: Lab,
    private readonly db: ReplicaDatabase
  ) {}

  /** The agent-facing URL of replica `name` (after `start`). */
  url(name: string): string {
    return `https://127.0.0.1:${this.port(name)}`
  }

  port(name: string): number {
    const p = this.ports.get(name)
    if (p === undefined) throw new Error(`no replica ${name}`)
    return p
  }

  /** The log file of replica `name`. */
  logPath(name: string): string {
    return join(this.lab.layout.logs, `cp-${name}.log`)
  }

  /** The parsed JSON log records of replica `name` so far (every run of it). */
  records(name: string): Record<string, unknown>[] {
    const path = this.logPath(name)
    if (!existsSync(path)) return []
    return readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => parseLogLine(l)?.record)
      .filter((r): r is Record<string, unknown> => r !== undefined)
  }

  /** The command line of replica `name` listening on `port`. */
  argv(name: string, port: number): string[] {
    return this.lab.controlPlaneArgv(
      port,
      [
        '--database',
        this.db.url,
        '--database-password-file',
        this.db.passwordFile,
        '--replica-id',
        name,
      ],
      join(this.lab.layout.cpDir, `issuance-${name}.log`)
    )
  }

  /**
   * Starts replica `name` on `port` and waits (20 s at most) until this run of it logs
   * `listening`; a replica that exits first fails with the tail of its log.
   */
  async start(name: string, port: number): Promise<void> {
    if (this.children.get(name)?.isRunning()) throw new Error(`replica ${name} is running`)
    const log = this.logPath(name)
    const before = existsSync(log) ? readFileSync(log, 'utf8').length : 0
    const child = this.sup.spawn(`cp-${name}`, this.argv(name, port), log)
    this.children.set(name, child)
    this.ports.set(name, port)
    const deadline = performance.now() + 20_000
    for (;;) {
      const text = existsSync(log) ? readFileSync(log, 'utf8').slice(before) : ''
      if (text.includes('"msg":"listening"')) return
      if (!child.isRunning())
        throw new Error(`replica ${name} exited at start:\n${text.slice(-2000)}`)
      if (performance.now() > deadline)
        throw new Error(
          `replica ${name} did not start listening within 20 s:\n${text.slice(-2000)}`
        )
      await Bun.sleep(25)
    }
  }

  /** Kills replica `name` with SIGKILL (a crash); resolves with its exit status (137). */
  async kill(name: string): Promise<number> {
    const c = this.children.get(name)
    if (c === undefined) throw new Error(`replica ${name} was never started`)
    return c.stop('SIGKILL')
  }

  /** Calls replica `name`'s API as the lab operator; status and body (JSON parsed when it is). */
  async api<T = unknown>(name: string, path: string): Promise<{ status: number; body: T }> {
    const op = this.lab.layout.operator
    const res = await fetch(`${this.url(name)}${path}`, {
      headers: { 'x-nixfleet-protocol': '1' },
      tls: {
        cert: readFileSync(`${op}.pem`, 'utf8'),
        key: readFileSync(`${op}.key`, 'utf8'),
        ca: readFileSync(join(this.lab.layout.ca, 'ca.pem'), 'utf8'),
      },
      signal: AbortSignal.timeout(5_000),
    })
    const text = await res.text()
    try {
      return { status: res.status, body: JSON.parse(text) as T }
    } catch {
      return { status: res.status, body: text as T }
    }
  }

  /** One series of replica `name`'s `/metrics`; an error when it does not answer or lacks it. */
  async metric(name: string, series: string): Promise<number> {
    const r = await this.api<string>(name, '/metrics')
    if (r.status !== 200) throw new Error(`/metrics of ${name} answered ${r.status}`)
    const v = seriesValue(String(r.body), series)
    if (v === undefined) throw new Error(`replica ${name} has no series ${series}`)
    return v
  }

  /** The `replica` part of replica `name`'s `/v1/operator/status`. */
  async status(name: string): Promise<ReplicaStatus> {
    const r = await this.api<{ replica?: ReplicaStatus }>(name, '/v1/operator/status')
    if (r.status !== 200 || r.body.replica === undefined)
      throw new Error(`/v1/operator/status of ${name} answered ${r.status} without replica`)
    return r.body.replica
  }

  /** Stops every replica still running. */
  async close(): Promise<void> {
    await this.sup.stopAll()
  }
}
