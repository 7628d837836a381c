/**
 * `nixfleet status [--watch] [--channel C]`: the fleet at a glance against a real control plane
 * — per channel its rollout, waves of host glyphs (the demo's table, `lab/view.ts`), the gate
 * sentences, freshness, then every host with a problem. `--watch` follows `GET /v1/stream`:
 * on a terminal the table is redrawn in place; otherwise only what changed is printed, one line
 * each, so a log stays readable. The stream is resumed (Last-Event-ID) after a drop.
 */
import {
  type HostEntry,
  LEGEND,
  type RolloutEntry,
  paint,
  renderFleet,
  table,
} from '../../lab/view.ts'
import { systemClock } from '../../runtime/clock.ts'
import { type CommandSpec, type ParsedArgs, flag, str } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import type { OperatorClient } from '../operator-client.ts'
import {
  type ChannelRow,
  type HostRow,
  type RolloutDetail,
  type RolloutRow,
  type Status,
  StatusSchema,
} from '../operator-api.ts'
import {
  clientOf,
  operatorSpec,
  output,
  print,
  short,
  unknownName,
  useColor,
  when,
} from '../operator-common.ts'
import * as v from 'valibot'

/** The declaration of `nixfleet status`. */
export const statusSpec: CommandSpec = operatorSpec({
  name: 'status',
  summary: 'the fleet at a glance: channels, rollouts, waves, host states, problems',
  usage: 'nixfleet status [--watch] [--channel C] [--json]',
  details:
    '--watch follows the control plane (GET /v1/stream): redraws in place on a terminal, prints\n' +
    'one line per change otherwise (--json: one status document per line). Ctrl-C stops.',
  options: {
    watch: { type: 'boolean', short: 'w', description: 'follow changes as they happen' },
    channel: { type: 'string', value: 'C', description: 'only this channel' },
  },
})

/** The status narrowed to one channel. */
function only(s: Status, channel: string | undefined): Status {
  if (channel === undefined) return s
  return {
    ...s,
    channels: s.channels.filter((c) => c.name === channel),
    hosts: s.hosts.filter((h) => h.channel === channel),
  }
}

/** The details cached by what they depend on (`detailKey`). */
type DetailCache = Map<string, { readonly key: string; readonly detail: RolloutDetail }>

/**
 * What a rollout's detail (waves, gate sentences) follows: the rollout's state, the channel's
 * gates and its hosts' phases, gates and problems — not heartbeats, which change every second.
 */
function detailKey(s: Status, c: ChannelRow): string {
  const hosts = s.hosts
    .filter((h) => h.channel === c.name)
    .map((h) => [h.hostname, h.rolloutState, h.gate?.reason, h.problem?.kind].join(':'))
  return JSON.stringify([c.rolloutId, c.rolloutState, c.gates, hosts])
}

/** The rollout details the table needs: each channel's current rollout (waves, halt, gates). */
async function rolloutsOf(
  client: OperatorClient,
  s: Status,
  cache: DetailCache
): Promise<Map<string, RolloutDetail>> {
  const out = new Map<string, RolloutDetail>()
  for (const c of s.channels) {
    if (!c.rolloutId) continue
    const key = detailKey(s, c)
    const cached = cache.get(c.name)
    const detail =
      cached?.key === key ? cached.detail : await client.rollout(c.rolloutId).catch(() => undefined)
    if (detail) {
      cache.set(c.name, { key, detail })
      out.set(c.name, detail)
    }
  }
  return out
}

/** A host row as the shared fleet table takes it. */
export const hostEntry = (h: HostRow): HostEntry => ({
  hostname: h.hostname,
  channel: h.channel,
  ...(h.lastRollout
    ? { lastRollout: { id: h.lastRollout.id, outcome: h.lastRollout.outcome ?? null } }
    : {}),
  ...(h.rolloutState ? { rolloutState: h.rolloutState } : {}),
  ...(h.converged !== undefined ? { converged: h.converged } : {}),
  ...(h.quarantinedClosure ? { quarantinedClosure: h.quarantinedClosure } : {}),
  gate: h.gate ?? null,
  problem: h.problem ?? null,
})

/** A rollout row as the shared fleet table takes it. */
export const rolloutEntry = (r: RolloutRow): RolloutEntry => ({
  id: r.id,
  channel: r.channel,
  currentWave: r.currentWave ?? 0,
  state: r.state,
  // The latest halt is kept after a resume or a supersede; only one that holds is shown.
  halt: r.halt?.active ? r.halt : null,
})

/** `18:24Z`, or `2026-05-02 18:24Z` when `dated`. */
function clockTime(iso: string, dated: boolean): string {
  const t = when(iso).replace(/:\d\dZ$/, 'Z')
  return dated ? t : t.slice(11)
}

/**
 * A channel's freshness: when CI must re-sign its release (the deadline first, the end of
 * freshness after it), or that it is stale already. Both times carry their date unless both
 * are today: a bare time next to a dated one reads as the same day.
 */
export function freshnessLine(c: ChannelRow, now: Date): string | undefined {
  if (c.stale) return `! release stale since ${when(c.freshUntil)}: CI must re-sign it`
  if (!c.freshUntil) return undefined
  const today = now.toISOString().slice(0, 10)
  const times = [c.freshUntil, c.resignBefore].filter((t): t is string => !!t)
  const dated = times.some((t) => !when(t).startsWith(today))
  const until = `fresh until ${clockTime(c.freshUntil, dated)}`
  if (!c.resignBefore) return until
  const due = clockTime(c.resignBefore, dated)
  return Date.parse(c.resignBefore) <= now.getTime()
    ? `re-sign now (due at ${due}; ${until})`
    : `re-sign before ${due} (${until})`
}

/** The status table: per channel its rollout and waves, gates, freshness; then problems. */
export function renderStatus(
  s: Status,
  rollouts: ReadonlyMap<string, RolloutDetail>,
  color: boolean,
  now: Date = new Date(systemClock.now())
): string[] {
  const lines: string[] = []
  const hosts = s.hosts.map(hostEntry)
  for (const c of s.channels) {
    const mine = s.hosts.filter((h) => h.channel === c.name).map((h) => h.hostname)
    const r = rollouts.get(c.name)
    const waves =
      r && r.waves.length > 0
        ? r.waves.map((w) => w.hosts.map((h) => h.hostname).filter((h) => mine.includes(h)))
        : [mine]
    const rolloutRows = r ? [rolloutEntry(r)] : []
    const fleet = renderFleet([{ channel: c.name, waves }], hosts, rolloutRows, color)
    lines.push(...fleet)
    // The rollout's sentences (a halt, hosts it waits on) and the channel's gates, once each:
    // the fleet table may have said one already for a host it holds.
    const said = new Set(fleet.map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim()))
    for (const g of new Set([...(r?.gates ?? []), ...c.gates]))
      if (!said.has(`↳ ${g}`)) lines.push(`      ${paint(color, `↳ ${g}`, 2)}`)
    const fresh = freshnessLine(c, now)
    if (fresh) lines.push(`      ${paint(color, fresh, c.stale ? 31 : 2)}`)
  }
  const problems = s.hosts.filter((h) => h.problem)
  if (problems.length > 0) {
    lines.push('', 'problems:')
    lines.push(
      ...table(
        ['HOST', 'CHANNEL', 'PROBLEM', 'SINCE', 'MESSAGE'],
        problems.map((h) => [
          h.hostname,
          h.channel,
          h.problem!.kind,
          when(h.problem!.since),
          h.problem!.message,
        ])
      ).map((l) => `  ${l}`)
    )
  }
  lines.push('', paint(color, `  ${LEGEND}`, 2))
  return lines
}

/** One line per difference between two statuses (for a log, not a terminal). */
export function statusChanges(before: Status | undefined, after: Status): string[] {
  const out: string[] = []
  const prevC = new Map(before?.channels.map((c) => [c.name, c]))
  for (const c of after.channels) {
    const p = prevC.get(c.name)
    if (p?.rolloutId !== c.rolloutId || p?.rolloutState !== c.rolloutState)
      out.push(`${c.name}: rollout ${c.rolloutId ?? 'none'} ${c.rolloutState ?? ''}`.trimEnd())
    if (p !== undefined && p.stale !== c.stale)
      out.push(`${c.name}: release ${c.stale ? 'stale: CI must re-sign it' : 'fresh again'}`)
  }
  const prevH = new Map(before?.hosts.map((h) => [h.hostname, h]))
  for (const h of after.hosts) {
    const p = prevH.get(h.hostname)
    const state = h.rolloutState ?? (h.converged ? 'Converged' : 'idle')
    const was = p ? (p.rolloutState ?? (p.converged ? 'Converged' : 'idle')) : undefined
    if (was !== state) out.push(`${h.hostname}: ${was ? `${was} → ` : ''}${state}`)
    if (p !== undefined && p.currentClosure !== h.currentClosure)
      out.push(`${h.hostname}: now runs ${short(h.currentClosure)}`)
    if ((p?.problem?.kind ?? null) !== (h.problem?.kind ?? null))
      out.push(
        h.problem
          ? `${h.hostname}: problem ${h.problem.kind}: ${h.problem.message}`
          : `${h.hostname}: problem cleared`
      )
  }
  return out
}

/** Runs `nixfleet status`. */
export async function status(args: ParsedArgs): Promise<number> {
  const client = clientOf(args)
  const channel = str(args, 'channel')
  const color = useColor()
  const cache: DetailCache = new Map()
  if (!flag(args, 'watch')) {
    const all = await client.status()
    const s = only(all, channel)
    if (channel !== undefined && s.channels.length === 0)
      throw unknownName(
        'status',
        'channel',
        channel,
        all.channels.map((c) => c.name)
      )
    const rollouts = flag(args, 'json') ? new Map() : await rolloutsOf(client, s, cache)
    output(args, s, () => renderStatus(s, rollouts, color))
    return EXIT_OK
  }
  return watch(args, client, channel, color, cache)
}

async function watch(
  args: ParsedArgs,
  client: OperatorClient,
  channel: string | undefined,
  color: boolean,
  cache: DetailCache
): Promise<number> {
  const live = process.stdout.isTTY === true && !flag(args, 'json')
  const stop = new AbortController()
  const onSignal = () => stop.abort()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  let drawn = 0
  let previous: Status | undefined
  let lastId: string | undefined
  // Messages are handled one at a time, in order: each may fetch rollout details.
  let chain = Promise.resolve()
  const show = async (s: Status) => {
    if (flag(args, 'json')) {
      process.stdout.write(`${JSON.stringify(s)}\n`)
    } else if (live) {
      const lines = renderStatus(s, await rolloutsOf(client, s, cache), color)
      if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`)
      print(lines)
      drawn = lines.length
    } else {
      const stamp = new Date(systemClock.now()).toISOString().slice(11, 19)
      print(statusChanges(previous, s).map((l) => `${stamp} ${l}`))
    }
    previous = s
  }
  try {
    let failures = 0
    while (!stop.signal.aborted) {
      try {
        await client.stream(
          (e) => {
            if (e.event !== 'snapshot' && e.event !== 'change') return
            lastId = e.id ?? lastId
            const parsed = v.safeParse(StatusSchema, JSON.parse(e.data))
            if (!parsed.success) return
            const s = only(parsed.output, channel)
            chain = chain.then(() => show(s))
            failures = 0
          },
          stop.signal,
          lastId
        )
      } catch (e) {
        // The first connection must work; later drops are retried with backoff.
        if (previous === undefined || !(e instanceof CliError)) throw e
        failures++
        process.stderr.write(`nixfleet: ${e.message}; reconnecting\n`)
      }
      await chain
      if (stop.signal.aborted) break
      await Bun.sleep(Math.min(500 * 2 ** failures, 10_000))
    }
    return EXIT_OK
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
