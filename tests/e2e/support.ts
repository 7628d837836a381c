/**
 * Helpers of the end-to-end suite: a lab fleet built from the compiled binary in a fresh temp
 * directory, polling with deadlines, typed reads of the control plane's API and metrics, and
 * the lab processes' logs. No fixed sleeps: a check that something did NOT happen first waits
 * for the planner to have had its chance (`planPassAfterNow`).
 */
import { afterEach } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab, type LabPlan } from '../../src/lab/lab.ts'
import type { HostEntry, RolloutEntry } from '../../src/lab/view.ts'
import { nixfleetBin } from '../support/binary.ts'

/** A lab for one scenario (removed by `lab.close()`). */
export async function makeLab(plan: LabPlan): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'nixfleet-e2e-'))
  return Lab.create({ dir, bin: await nixfleetBin(), plan })
}

/** A lab per test of the calling file, closed after each: `const env = labPerTest()`. */
export function labPerTest(): { lab: Lab | undefined } {
  const env: { lab: Lab | undefined } = { lab: undefined }
  afterEach(async () => {
    await env.lab?.close()
    env.lab = undefined
  })
  return env
}

/** Polls `check` every 100 ms until it returns a value; fails naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000
): Promise<T> {
  const deadline = performance.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (e) {
      last = e
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`
      )
    }
    await Bun.sleep(100)
  }
}

/** `/v1/hosts` keyed by hostname. */
export async function hostsOf(
  lab: Lab
): Promise<Record<string, HostEntry & Record<string, unknown>>> {
  const r = await lab.api<{ hosts: (HostEntry & Record<string, unknown>)[] }>('/v1/hosts')
  if (r.status !== 200) throw new Error(`/v1/hosts answered ${r.status}`)
  return Object.fromEntries(r.body.hosts.map((h) => [h.hostname, h]))
}

/** `/v1/rollouts` (in-flight rollouts). */
export async function rolloutsOf(lab: Lab): Promise<RolloutEntry[]> {
  return (await lab.api<{ rollouts: RolloutEntry[] }>('/v1/rollouts')).body.rollouts
}

/** The lifecycle state of a rollout (`Terminal`, `Superseded`, …). */
export async function lifecycleOf(lab: Lab, rolloutId: string): Promise<string | undefined> {
  const r = await lab.api<{ state: string }>(`/v1/rollouts/${rolloutId}/lifecycle`)
  return r.status === 200 ? r.body.state : undefined
}

/** One row of a rollout's event log. */
export type LogRow = {
  seq: number
  at: string
  kind: string
  host: string | null
  payload: Record<string, unknown>
}

/** A rollout's event log, oldest first. */
export async function eventsOf(lab: Lab, rolloutId: string): Promise<LogRow[]> {
  const r = await lab.api<{ events: LogRow[] }>(`/v1/rollouts/${rolloutId}/events?limit=100000`)
  if (r.status !== 200) throw new Error(`events of ${rolloutId} answered ${r.status}`)
  return r.body.events
}

/** The agent events of `host` in a rollout log: `[seq, kind]` in log order. */
export function agentEventsOf(rows: readonly LogRow[], host: string): [number, string][] {
  return rows
    .filter((r) => r.kind === 'agent_event' && r.host === host)
    .map((r) => [r.payload.seq as number, r.payload.kind as string])
}

/** The rollout id of `channel` for a release commit. */
export const rid = (channel: string, commit: string): string => `${channel}@${commit}`

/**
 * Whether every named host has converged in its channel's rollout of `commit`: the record is
 * Converged (or, once the rollout is Terminal and off the live view, the host runs its target).
 */
export async function converged(
  lab: Lab,
  commit: string,
  hosts: readonly string[]
): Promise<boolean> {
  const all = await hostsOf(lab)
  return hosts.every((h) => {
    const e = all[h]
    if (e === undefined || e.lastRollout?.id !== rid(e.channel, commit)) return false
    return e.rolloutState == null ? e.converged === true : e.rolloutState === 'Converged'
  })
}

/** The control plane's plan passes so far (one per `PlanTick` input the reducer handled). */
export const PLAN_PASSES = 'nixfleet_cp_reducer_input_duration_seconds_count{input="PlanTick"}'
/** The dispatches the control plane queued since it started. */
export const DISPATCHES_QUEUED = 'nixfleet_cp_dispatches_queued_total'

/**
 * One series of the control plane's `/metrics` (`name` or `name{labels}`): 0 while the series is
 * absent, but an error when no metric family has that name, so a misspelt name cannot read 0.
 */
export async function cpMetric(lab: Lab, series: string): Promise<number> {
  const r = await lab.api<string>('/metrics')
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`)
  const lines = r.body.split('\n')
  for (const line of lines) {
    const sp = line.lastIndexOf(' ')
    if (line.slice(0, sp) === series) return Number(line.slice(sp + 1))
  }
  const name = series.split('{')[0]!
  const families = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!)
  if (!families.some((f) => [f, `${f}_count`, `${f}_sum`, `${f}_bucket`].includes(name))) {
    throw new Error(`no metric family for ${series}`)
  }
  return 0
}

/**
 * Waits for a whole plan pass that began after this call, so it planned on everything the test
 * has seen so far: what a check that nobody was dispatched needs before it can conclude. A pass
 * runs synchronously in the reducer, so one counted after the first read began after it.
 */
export async function planPassAfterNow(lab: Lab): Promise<void> {
  const before = await cpMetric(lab, PLAN_PASSES)
  await until('a plan pass', async () => (await cpMetric(lab, PLAN_PASSES)) > before, 30_000)
}

/** The dispatches the planner queued for `host` in a rollout log (`QueueDispatch` plan actions). */
export function dispatchesOf(rows: readonly LogRow[], host: string): LogRow[] {
  return rows.filter(
    (r) => r.kind === 'plan_action' && r.host === host && r.payload.action === 'QueueDispatch'
  )
}

/** The log of a lab process so far (`control-plane`, `agent-<host>`). */
export function logOf(lab: Lab, process: string): string {
  const path = join(lab.layout.logs, `${process}.log`)
  return existsSync(path) ? readFileSync(path, 'utf8') : ''
}

/** The entries of a directory, none when it does not exist. */
export function entriesOf(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : []
}

/**
 * Revokes every certificate of `host` issued before the next whole second, in a new signed
 * revocation list published with a release of `closures`, and has the CP poll it now.
 */
export async function revokeInNewRelease(
  lab: Lab,
  host: string,
  closures: Readonly<Record<string, string>>
): Promise<void> {
  const notBefore = new Date(Math.ceil((Date.now() + 1000) / 1000) * 1000)
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
  lab.setRevocations([{ hostname: host, notBefore, reason: 'disk sent for repair' }])
  await lab.release(closures)
  await lab.refresh()
}
