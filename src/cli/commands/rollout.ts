/**
 * `nixfleet rollout list|show|events|resume|cancel|wait`. A rollout id may be abbreviated to its
 * channel and a commit prefix (`stable@3eac`). `rollout wait` is what CI runs after
 * `nixfleet release`: it polls `GET /v1/rollouts/:id` and prints progress until the rollout
 * converges (exit 0), halts, is cancelled or superseded (exit 1), or `--timeout` passes (exit 1);
 * a connection error exits 2.
 */
import { table } from '../../lab/view.ts'
import { systemClock } from '../../runtime/clock.ts'
import type { Command } from '../command.ts'
import { type CommandSpec, type ParsedArgs, flag, positiveIntOpt, str } from '../args.ts'
import { CliError, EXIT_OK, EXIT_VERIFY_FAILED } from '../errors.ts'
import { ApiError, type OperatorClient } from '../operator-client.ts'
import type { EventRow, RolloutRow } from '../operator-api.ts'
import {
  checkName,
  clientOf,
  confirmAction,
  durationMs,
  eventDetail,
  eventKind,
  operatorSpec,
  output,
  print,
  resolveRolloutId,
  tableOr,
  tableWithDetail,
  when,
} from '../operator-common.ts'

const ID = { min: 1, max: 1, names: 'ROLLOUT (e.g. stable@3eac)' }

/** `converged`, `halted: canary (probe web: exit 1)`, `cancelled by operator-alice: …`, or ''. */
function outcomeText(r: RolloutRow): string {
  const o = r.outcome
  if (!o) return ''
  if (o.kind === 'halted')
    return `halted: ${[o.host, o.reason ? `(${o.reason})` : ''].filter(Boolean).join(' ')}`
  if (o.kind === 'cancelled') return `cancelled by ${o.by ?? '?'}: ${o.reason ?? ''}`.trimEnd()
  // A release that replaced a halted rollout: the halt is what the operator looks for.
  if (o.kind === 'superseded')
    return `superseded by ${o.by ?? '?'}${r.halt ? ` after halting on ${r.halt.host ?? '?'}` : ''}`
  return o.kind
}

/**
 * `halt: canary Failed at …: probe web: exit status 1`, and whether it still holds the rollout
 * (a resumed or superseded rollout keeps its latest halt, resolved).
 */
export function haltLine(h: NonNullable<RolloutRow['halt']>): string {
  const reason = h.reason ?? ''
  const probe = h.probe && !reason.includes(h.probe) ? `probe ${h.probe}: ` : ''
  const head = [h.host ?? '?', h.hostPhase].filter(Boolean).join(' ')
  return `halt: ${head} at ${when(h.at) || '?'}: ${probe}${reason}${h.active ? '' : ' (resolved — no longer holds the rollout)'}`
}

/** Host counts by state: `3 Converged, 1 Activating`. */
function progress(r: RolloutRow): string {
  const counts = new Map<string, number>()
  for (const s of Object.values(r.hostStates)) counts.set(s, (counts.get(s) ?? 0) + 1)
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ') || 'no hosts yet'
}

const listSpec: CommandSpec = operatorSpec({
  name: 'rollout list',
  summary: 'rollouts in flight (--all: every rollout, newest first)',
  usage: 'nixfleet rollout list [--all] [--channel C] [--json]',
  options: {
    all: { type: 'boolean', description: 'every rollout, not only open ones' },
    channel: { type: 'string', value: 'C', description: 'only this channel' },
  },
})

async function list(args: ParsedArgs): Promise<number> {
  const channel = str(args, 'channel')
  const client = clientOf(args)
  const body = await client.rollouts({ channel, all: flag(args, 'all') })
  if (body.rollouts.length === 0) await checkName(client, 'rollout list', 'channel', channel)
  output(args, body, () =>
    tableOr(
      flag(args, 'all') ? 'no rollouts yet' : 'no rollout in flight (--all lists every rollout)',
      ['ROLLOUT', 'STATE', 'WAVE', 'OPENED', 'HOSTS', 'OUTCOME'],
      body.rollouts.map((r) => [
        r.id,
        r.state,
        String(r.currentWave ?? ''),
        when(r.openedAt),
        progress(r),
        outcomeText(r),
      ])
    )
  )
  return EXIT_OK
}

const showSpec: CommandSpec = operatorSpec({
  name: 'rollout show',
  summary: 'one rollout: waves, hosts and their states, gates, halt details',
  usage: 'nixfleet rollout show ROLLOUT [--json]',
  positionals: ID,
  options: {},
})

async function show(args: ParsedArgs): Promise<number> {
  const client = clientOf(args)
  const r = await client.rollout(await resolveRolloutId(client, args.positionals[0]!))
  output(args, r, () => {
    const lines = [
      `${r.id}  ${r.state}  wave ${r.currentWave ?? '?'}  opened ${when(r.openedAt) || '?'}`,
      `  outcome: ${outcomeText(r) || 'in progress'}`,
    ]
    for (const w of r.waves) {
      const cells = w.hosts.map(
        (h) => `${h.hostname} ${h.state ?? '-'}${h.skipped ? ' (skipped)' : ''}`
      )
      lines.push(
        `  wave ${w.index}${w.state ? ` ${w.state}` : ''}${w.soakEndsAt ? ` soak until ${when(w.soakEndsAt)}` : ''}: ${cells.join(', ')}`
      )
    }
    if (r.halt) lines.push(`  ${haltLine(r.halt)}`)
    for (const g of r.gates) lines.push(`  ↳ ${g}`)
    return lines
  })
  return EXIT_OK
}

const EVENT_KINDS =
  'agent_event, plan_action, effect, gate_decision,\n' +
  'verify_outcome, manifest_poll, rollout_event, operator_action'

const eventsSpec: CommandSpec = operatorSpec({
  name: 'rollout events',
  summary: "a rollout's event log, oldest first (--follow: keep printing new events)",
  usage: 'nixfleet rollout events ROLLOUT [--host H] [--kind K] [--last N] [--follow] [--json]',
  details:
    `--kind is one of ${EVENT_KINDS}.\n` +
    "The KIND column shows an agent event's own kind after a slash (agent_event/Converged).\n" +
    '--json prints one event per line (JSON Lines).',
  positionals: ID,
  options: {
    host: { type: 'string', value: 'H', description: 'only events of this host' },
    kind: { type: 'string', value: 'K', description: 'only events of this kind' },
    last: { type: 'string', value: 'N', description: 'only the newest N events' },
    follow: { type: 'boolean', short: 'f', description: 'keep printing new events until Ctrl-C' },
    limit: { type: 'string', value: 'N', description: 'events per request', default: '1000' },
  },
})

async function events(args: ParsedArgs): Promise<number> {
  const limit = positiveIntOpt(args, 'rollout events', 'limit')!
  const last = positiveIntOpt(args, 'rollout events', 'last')
  const client = clientOf(args)
  const id = await resolveRolloutId(client, args.positionals[0]!)
  const filter = { host: str(args, 'host'), kind: str(args, 'kind') }
  // A misspelt --host matches no event: say so rather than print an empty log.
  if (filter.host !== undefined) {
    const any = await client.events(id, { host: filter.host, limit: 1 })
    if (any.events.length === 0) await checkName(client, 'rollout events', 'host', filter.host)
  }
  const json = flag(args, 'json')
  let header = false
  const emit = (rows: readonly EventRow[]) => {
    if (json) for (const e of rows) process.stdout.write(`${JSON.stringify(e)}\n`)
    else {
      const lines = tableWithDetail(
        ['SEQ', 'AT', 'HOST', 'KIND', 'DETAIL'],
        rows.map((e) => [String(e.seq), when(e.at), e.host ?? '', eventKind(e), eventDetail(e)])
      )
      print(header ? lines.slice(1) : lines)
      header = true
    }
  }
  // The newest N: read backwards from the end, shown oldest first like the rest.
  let after: number | undefined
  if (last !== undefined) {
    const tail = await client.events(id, { ...filter, order: 'desc', limit: last })
    emit([...tail.events].reverse())
    after = tail.events[0]?.seq
  }
  const stop = new AbortController()
  const onSignal = () => stop.abort()
  process.on('SIGINT', onSignal)
  try {
    for (;;) {
      // Every page up to the end of the log; then, with --follow, again after a pause.
      for (let more = last === undefined || flag(args, 'follow'); more;) {
        const body = await client.events(id, { ...filter, after, limit })
        emit(body.events)
        after = body.events.at(-1)?.seq ?? after
        more = body.next !== null && body.next !== undefined
      }
      if (!flag(args, 'follow') || stop.signal.aborted) return EXIT_OK
      await Promise.race([
        Bun.sleep(1000),
        new Promise((r) => stop.signal.addEventListener('abort', r, { once: true })),
      ])
      if (stop.signal.aborted) return EXIT_OK
    }
  } finally {
    process.off('SIGINT', onSignal)
  }
}

function rolloutAction(kind: 'resume' | 'cancel'): Command {
  const spec = operatorSpec(
    {
      name: `rollout ${kind}`,
      summary:
        kind === 'resume'
          ? 'resume a halted rollout (the failed hosts stay as they are)'
          : 'cancel a rollout: no further host is dispatched',
      usage: `nixfleet rollout ${kind} ROLLOUT --reason TEXT [--yes] [--json]`,
      positionals: ID,
      options: {},
    },
    true
  )
  return {
    spec,
    run: async (args) => {
      const client = clientOf(args)
      const id = await resolveRolloutId(client, args.positionals[0]!)
      const reason = await confirmAction(args, spec.name, `${kind} ${id}`)
      const answer = await client.post(`/v1/operator/rollouts/${encodeURIComponent(id)}/${kind}`, {
        reason,
      })
      output(args, answer, () => [`${kind} ${id}: done`])
      return EXIT_OK
    },
  }
}

const waitSpec: CommandSpec = operatorSpec({
  name: 'rollout wait',
  summary: 'wait until a rollout converges (exit 0) or halts, is cancelled or superseded (exit 1)',
  usage: 'nixfleet rollout wait ROLLOUT|--channel C [--timeout D] [--json]',
  details:
    "With --channel, the channel's current rollout. Prints progress as hosts move; --timeout\n" +
    '(e.g. 30m) gives up with exit 1. --json prints the final rollout.',
  positionals: { min: 0, max: 1, names: 'ROLLOUT' },
  options: {
    channel: { type: 'string', value: 'C', description: "the channel's current rollout" },
    timeout: { type: 'string', value: 'D', description: 'give up after D (90s, 30m, 2h)' },
    interval: { type: 'string', value: 'D', description: 'between polls', default: '1s' },
  },
})

/** The id of the channel's current rollout. */
async function currentOf(client: OperatorClient, channel: string): Promise<string> {
  const c = (await client.channels()).find((x) => x.name === channel)
  if (!c) throw new CliError(`rollout wait: no channel '${channel}'`)
  if (!c.rolloutId) throw new CliError(`rollout wait: channel '${channel}' has no rollout`)
  return c.rolloutId
}

async function wait(args: ParsedArgs): Promise<number> {
  const client = clientOf(args)
  const channel = str(args, 'channel')
  const given = args.positionals[0]
  if ((given === undefined) === (channel === undefined))
    throw new CliError('rollout wait: give a ROLLOUT or --channel C (one of them)')
  const timeoutArg = str(args, 'timeout')
  const timeout =
    timeoutArg === undefined ? Infinity : durationMs(timeoutArg, 'rollout wait', 'timeout')
  const interval = durationMs(str(args, 'interval')!, 'rollout wait', 'interval')
  const mono = () => systemClock.monotonicMs()
  const deadline = mono() + timeout
  const pause = () => Bun.sleep(Math.min(interval, Math.max(0, deadline - mono())))
  let name = given ?? channel!
  const log = (s: string) =>
    process.stderr.write(
      `${new Date(systemClock.now()).toISOString().slice(11, 19)} ${name}: ${s}\n`
    )
  // A control plane that is starting answers 503 until it adopted a release: not yet, not an
  // error, while the deadline allows (CI may run this right after deploying it).
  let notReady = false
  const whenReady = async <T>(f: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await f()
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 503 || mono() >= deadline) throw e
        if (!notReady) log('the control plane is not ready yet (HTTP 503); waiting')
        notReady = true
        await pause()
      }
    }
  }
  const id = await whenReady(() =>
    given !== undefined ? resolveRolloutId(client, given) : currentOf(client, channel!)
  )
  name = id
  let last = ''
  for (;;) {
    const r = await whenReady(() => client.rollout(id))
    const line = `${r.state}, wave ${r.currentWave ?? '?'}: ${progress(r)}`
    if (line !== last) log(line)
    last = line
    const o = r.outcome
    if (o) {
      if (flag(args, 'json')) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
      else print([`${id}: ${outcomeText(r)}`])
      return o.kind === 'converged' ? EXIT_OK : EXIT_VERIFY_FAILED
    }
    if (mono() >= deadline)
      throw new CliError(
        `rollout wait: ${id} did not finish within ${timeoutArg} (${line})`,
        EXIT_VERIFY_FAILED
      )
    await pause()
  }
}

/** The rollout commands. */
export const rolloutCommands: readonly Command[] = [
  { spec: listSpec, run: list },
  { spec: showSpec, run: show },
  { spec: eventsSpec, run: events },
  rolloutAction('resume'),
  rolloutAction('cancel'),
  { spec: waitSpec, run: wait },
]
