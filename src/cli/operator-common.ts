/**
 * What every operator command shares: the connection and `--json` options, the client built
 * from them, output as JSON or table lines, colour only on a terminal without `NO_COLOR`, the
 * `--reason`/`--yes` contract of mutating commands, durations, and resolving an abbreviated
 * rollout id (`stable@3eac`) against the rollout list (ambiguous → exit 2 naming candidates).
 */
import { table } from '../lab/view.ts'
import type { CommandSpec, OptionSpec, ParsedArgs } from './args.ts'
import { flag, str } from './args.ts'
import { suggest } from '../lib/suggest.ts'
import { CliError } from './errors.ts'
import type { EventRow } from './operator-api.ts'
import { OperatorClient } from './operator-client.ts'
import { CONNECTION_OPTIONS, resolveConnection } from './operator-config.ts'

/** `--json` and the connection flags. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', description: 'print JSON instead of a table' },
  ...CONNECTION_OPTIONS,
}

/** `--reason` and `--yes` of a mutating command. */
export const ACTION_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  reason: {
    type: 'string',
    value: 'TEXT',
    description: 'why (recorded in the audit log; required)',
  },
  yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation' },
}

/** The exit codes of operator commands, for help texts. */
export const EXIT_CODES =
  'exit codes: 0 ok, 1 the thing asked about failed, halted or was refused (403, 409),\n' +
  '2 usage, unknown host/channel/rollout (404) or connection error'

/** A command spec with the common options added. */
export function operatorSpec(spec: CommandSpec, mutating = false): CommandSpec {
  return {
    ...spec,
    details: `${spec.details ? `${spec.details}\n\n` : ''}${EXIT_CODES}`,
    options: { ...spec.options, ...(mutating ? ACTION_OPTIONS : {}), ...COMMON_OPTIONS },
  }
}

/** The client for the resolved connection. */
export function clientOf(args: ParsedArgs): OperatorClient {
  return new OperatorClient(resolveConnection(args))
}

/** Whether to colour stdout: a terminal, and `NO_COLOR` unset. */
export function useColor(): boolean {
  return process.stdout.isTTY === true && !process.env['NO_COLOR']
}

/** Writes lines to stdout. */
export function print(lines: readonly string[]): void {
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`)
}

/** Prints `value` as JSON when `--json`, else the table lines. */
export function output(args: ParsedArgs, value: unknown, lines: () => readonly string[]): void {
  if (flag(args, 'json')) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
  else print(lines())
}

/** A table, or `none` when there are no rows (a lone header reads as a broken command). */
export function tableOr(
  none: string,
  header: readonly string[],
  rows: readonly (readonly string[])[]
): string[] {
  return rows.length === 0 ? [none] : table(header, rows)
}

/** A local time shown compactly: `2026-05-01 12:00:03Z`. */
export function when(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''
}

/** A closure basename shortened to its hash prefix. */
export function short(closure: string | null | undefined): string {
  return closure ? closure.slice(0, 12) : ''
}

/** An event's own kind: the agent's event kind inside an `agent_event` row, if any. */
export function eventKind(e: EventRow): string {
  const payload = e.payload
  const inner =
    typeof payload === 'object' && payload !== null && 'kind' in payload ? payload.kind : undefined
  return typeof inner === 'string' && inner !== e.kind ? `${e.kind}/${inner}` : e.kind
}

// Payload fields a DETAIL cell never repeats: the row already shows them, or they are noise.
const DETAIL_SKIP = new Set([
  'kind',
  'seq',
  'host',
  'hostname',
  'rollout',
  'rollout_id',
  'rolloutId',
])

/**
 * One line summarising an event's payload, for the DETAIL column: a probe's name and why it
 * failed, a transition's from→to, a gate's reason, a closure. Unknown payloads show their
 * scalar fields as `key=value`, so nothing the CP adds is hidden.
 */
export function eventDetail(e: EventRow): string {
  const p = e.payload
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return ''
  const f = p as Record<string, unknown>
  const s = (k: string): string | undefined => {
    const val = f[k]
    return typeof val === 'string' || typeof val === 'number' ? String(val) : undefined
  }
  const kind = s('kind')
  if (e.kind === 'agent_event') {
    if (kind === 'ProbeResult') {
      const why = s('failureReason')
      return `probe ${s('probeName') ?? '?'}: ${s('status') ?? '?'}${why ? `: ${why}` : ''}`
    }
    if (kind === 'ProbeObservedFirst' || kind === 'ProbeFailureFirst')
      return `probe ${s('probeName') ?? '?'}`
    if (kind === 'Failed') {
      const probes = Array.isArray(f['failingProbes']) ? f['failingProbes'].join(', ') : ''
      return `failing probes: ${probes || '-'} (${s('policyApplied') ?? '?'})`
    }
    if (kind === 'ActivationFailed') {
      const tail = (s('stderrTail') ?? '').trim().split('\n').at(-1) ?? ''
      return `exit status ${s('exitCode') ?? '?'}${tail ? `: ${tail}` : ''}`
    }
    if (kind === 'Converged') return `closure ${short(s('currentClosure'))}`
    if (kind === 'RollbackComplete') return `reverted to ${short(s('revertedToClosure'))}`
    if (kind === 'ActivationDeferred') return `deferred by ${s('component') ?? '?'}`
  }
  if (e.kind === 'effect' && s('from') !== undefined && s('to') !== undefined)
    return `${s('effect') === 'RecordRolloutTransition' ? 'rollout' : 'transition'} ${s('from')}→${s('to')}`
  if (e.kind === 'gate_decision') {
    const hosts = Array.isArray(f['hosts']) ? ` (${f['hosts'].join(', ')})` : ''
    return `${s('gate') ?? '?'}: ${s('reason') ?? ''}${hosts}`
  }
  if (e.kind === 'operator_action')
    return `${s('action') ?? '?'} ${s('target') ?? ''} by ${s('operator') ?? '?'}: ${s('reason') ?? ''}`
  if (e.kind === 'plan_action' && s('action') === 'QueueDispatch')
    return `dispatch ${short(s('targetClosure'))} (wave ${s('waveIndex') ?? '?'})`
  const label =
    s('effect') ?? s('action') ?? (kind !== undefined && kind !== e.kind ? undefined : kind)
  const rest = Object.entries(f)
    // Times are in the AT column already.
    .filter(([k]) => !DETAIL_SKIP.has(k) && k !== 'effect' && k !== 'action' && !/(^a|A)t$/.test(k))
    .filter(
      ([, val]) => typeof val === 'string' || typeof val === 'number' || typeof val === 'boolean'
    )
    .map(([k, val]) => `${k}=${/closure/i.test(k) ? short(String(val)) : String(val)}`)
  return [label, ...rest].filter(Boolean).join(' ')
}

/** `text` cut to `width` characters, an ellipsis marking the cut. */
export function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(1, width - 1))}…`
}

/**
 * A table whose last column is free text: on a terminal (`columns`) cut so each line fits it,
 * never below 24 characters of text; elsewhere (a pipe, a log) the text cut to 80 characters.
 */
export function tableWithDetail(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  columns: number | undefined = process.stdout.isTTY === true ? process.stdout.columns : undefined
): string[] {
  const fixed = header.length - 1
  const used = header
    .slice(0, fixed)
    .map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] || '-').length)) + 2)
    .reduce((a, b) => a + b, 0)
  const room = columns ? Math.max(24, columns - used) : 80
  return table(
    header,
    rows.map((r) => [...r.slice(0, fixed), truncate(r[fixed] ?? '', room)])
  )
}

/**
 * The reason of a mutating command, after confirmation: refuses without `--reason`; asks on a
 * terminal unless `--yes`. `what` describes the action in the prompt.
 */
export async function confirmAction(args: ParsedArgs, cmd: string, what: string): Promise<string> {
  const reason = str(args, 'reason')?.trim()
  if (!reason) throw new CliError(`${cmd}: --reason is required (it is recorded in the audit log)`)
  if (flag(args, 'yes') || process.stdin.isTTY !== true) return reason
  process.stderr.write(`${what} (reason: ${reason})? [y/N] `)
  const answer = await readLine()
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError(`${cmd}: not confirmed; nothing done`)
  return reason
}

async function readLine(): Promise<string> {
  const reader = Bun.stdin.stream().getReader()
  const decoder = new TextDecoder()
  let line = ''
  try {
    while (!line.includes('\n')) {
      const { value, done } = await reader.read()
      if (done) break
      line += decoder.decode(value)
    }
  } finally {
    reader.releaseLock()
  }
  return line.split('\n')[0] ?? ''
}

/** A duration: `90`, `90s`, `5m`, `1h` → milliseconds; exit 2 naming the flag otherwise. */
export function durationMs(text: string, cmd: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (!m) throw new CliError(`${cmd}: --${name} must be a duration such as 90s, 5m or 1h`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!
  return Number(m[1]) * unit
}

/** `no channel 'stabel' (did you mean stable?)`: a usage error naming the closest known name. */
export function unknownName(cmd: string, what: string, given: string, known: readonly string[]) {
  const near = suggest(given, known)
  return new CliError(
    `${cmd}${cmd ? ': ' : ''}no ${what} '${given}'${near ? ` (did you mean ${near}?)` : known.length > 0 ? ` (known: ${[...known].sort().slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''})` : ''}`
  )
}

/**
 * Exit 2 unless the control plane knows the channel or host `name` (asked after an empty
 * filtered answer, so a misspelt filter is an error rather than an empty fleet).
 */
export async function checkName(
  client: Pick<OperatorClient, 'channels' | 'hosts'>,
  cmd: string,
  what: 'channel' | 'host',
  name: string | undefined
): Promise<void> {
  if (name === undefined) return
  const known =
    what === 'channel'
      ? (await client.channels()).map((c) => c.name)
      : (await client.hosts()).hosts.map((h) => h.hostname)
  if (!known.includes(name)) throw unknownName(cmd, what, name, known)
}

/**
 * The full rollout id `given` names: itself when the CP lists it, else the single listed id it
 * is a prefix of (`stable@3eac`). None or several → exit 2 naming what was found.
 */
export async function resolveRolloutId(
  client: Pick<OperatorClient, 'rollouts'>,
  given: string
): Promise<string> {
  const at = given.indexOf('@')
  if (at <= 0)
    throw new CliError(`'${given}' is not a rollout id (expected CHANNEL@COMMIT, e.g. stable@3eac)`)
  const channel = given.slice(0, at)
  const ids = new Set<string>()
  let cursor: string | undefined
  for (let page = 0; page < 20; page++) {
    const body = await client.rollouts({
      channel,
      all: true,
      limit: 500,
      ...(cursor !== undefined ? { cursor } : {}),
    })
    for (const r of body.rollouts) ids.add(r.id)
    if (!body.next) break
    cursor = body.next
  }
  if (ids.has(given)) return given
  const matches = [...ids].filter((id) => id.startsWith(given))
  if (matches.length === 1) return matches[0]!
  if (matches.length > 1)
    throw new CliError(`rollout '${given}' is ambiguous: ${matches.sort().join(', ')}`)
  throw new CliError(
    `no rollout matches '${given}'${ids.size > 0 ? ` (on ${channel}: ${[...ids].sort().join(', ')})` : ''}`
  )
}
