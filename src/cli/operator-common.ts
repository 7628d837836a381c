/**
 * What every operator command shares: the connection and `--json` options, the client built
 * from them, output as JSON or table lines, colour only on a terminal without `NO_COLOR`, the
 * `--reason`/`--yes` contract of mutating commands, durations, and resolving an abbreviated
 * rollout id (`stable@3eac`) against the rollout list (ambiguous → exit 2 naming candidates).
 */
import { table } from '../lab/view.ts'
import type { CommandSpec, OptionSpec, ParsedArgs } from './args.ts'
import { flag, str } from './args.ts'
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
  'exit codes: 0 ok, 1 the thing asked about failed, halted or was refused, 2 usage or connection error'

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
