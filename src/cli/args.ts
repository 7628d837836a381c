/**
 * Command-line parsing for every subcommand: declared options only (unknown flags are usage
 * errors), `--flag=value` and `--flag value`, repeatable options, env-var fallbacks, and
 * generated `--help`. The only reader of argv/env besides `main.ts`.
 */
import { parseArgs } from 'node:util'
import { suggest } from '../lib/suggest.ts'
import { CliError } from './errors.ts'

/** One option of a command. */
export type OptionSpec = {
  readonly type: 'string' | 'boolean'
  readonly description: string
  readonly multiple?: boolean
  readonly short?: string
  /** Environment variable consulted when the flag is absent. */
  readonly env?: string
  readonly default?: string
  /** Placeholder shown in help, e.g. FILE. */
  readonly value?: string
  readonly required?: boolean
}

/** A command's declaration: its name, one-line summary and options. */
export type CommandSpec = {
  readonly name: string
  readonly summary: string
  readonly usage?: string
  readonly details?: string
  readonly options: Readonly<Record<string, OptionSpec>>
  readonly positionals?: { readonly min: number; readonly max: number; readonly names: string }
}

/** Parsed options: strings, booleans or string arrays, keyed by long name. */
export type ParsedArgs = {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>
  readonly positionals: readonly string[]
  readonly help: boolean
}

/** Renders the help text of a command. */
export function helpText(spec: CommandSpec): string {
  const lines = [`nixfleet ${spec.name} — ${spec.summary}`, '']
  lines.push(`usage: ${spec.usage ?? `nixfleet ${spec.name} [options]`}`)
  if (spec.details) lines.push('', spec.details)
  const entries = Object.entries(spec.options)
  if (entries.length > 0) lines.push('', 'options:')
  for (const [name, o] of entries) {
    const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`
    const extra = [
      o.required ? 'required' : '',
      o.multiple ? 'repeatable' : '',
      o.default !== undefined ? `default ${o.default}` : '',
      o.env ? `env ${o.env}` : '',
    ].filter(Boolean)
    lines.push(
      `  ${flag.padEnd(34)} ${o.description}${extra.length ? ` (${extra.join('; ')})` : ''}`
    )
  }
  lines.push(`  ${'--help'.padEnd(34)} show this help`)
  return lines.join('\n')
}

/** Parses `argv` (without the command name) against `spec`; throws `CliError` on misuse. */
export function parseCommandArgs(
  spec: CommandSpec,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env
): ParsedArgs {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; multiple?: boolean; short?: string }
  > = { help: { type: 'boolean', short: 'h' } }
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = {
      type: o.type,
      ...(o.multiple ? { multiple: true } : {}),
      ...(o.short ? { short: o.short } : {}),
    }
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] }
  try {
    parsed = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    }) as typeof parsed
  } catch (e) {
    const unknown = unknownOption(e)
    if (unknown !== undefined) {
      const known = Object.keys(options).map((n) => `--${n}`)
      const near = unknown.startsWith('--') ? suggest(unknown, known) : undefined
      throw new CliError(
        `unknown option ${unknown} for 'nixfleet ${spec.name}' (${near ? `did you mean ${near}?` : `see nixfleet ${spec.name} --help`})`
      )
    }
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e)
    throw new CliError(
      `${spec.name}: ${msg.replace(/^TypeError \[[A-Z_]+\]: /, '')} (see nixfleet ${spec.name} --help)`
    )
  }
  const help = parsed.values.help === true
  const values: Record<string, string | boolean | string[] | undefined> = {}
  for (const [name, o] of Object.entries(spec.options)) {
    let val = parsed.values[name] as string | boolean | string[] | undefined
    if (val === undefined && o.env && env[o.env] !== undefined && env[o.env] !== '') {
      const raw = env[o.env]!
      val = o.type === 'boolean' ? /^(1|true|yes)$/i.test(raw) : o.multiple ? [raw] : raw
    }
    if (val === undefined && o.default !== undefined) val = o.default
    if (val === undefined && o.required && !help) {
      throw new CliError(
        `${spec.name}: missing required option --${name} (see nixfleet ${spec.name} --help)`
      )
    }
    values[name] = val
  }
  const pos = spec.positionals ?? { min: 0, max: 0, names: '' }
  if (!help && (parsed.positionals.length < pos.min || parsed.positionals.length > pos.max)) {
    throw new CliError(
      pos.max === 0
        ? `${spec.name}: unexpected argument '${String(parsed.positionals[0]).slice(0, 40)}' (see nixfleet ${spec.name} --help)`
        : `${spec.name}: expected ${pos.names} (see nixfleet ${spec.name} --help)`
    )
  }
  return { values, positionals: parsed.positionals, help }
}

/** The flag parseArgs rejected as unknown (its own text quotes it unbalanced), if that was it. */
function unknownOption(e: unknown): string | undefined {
  if (!(e instanceof Error) || !('code' in e) || e.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
    return undefined
  return /^Unknown option '([^']+)'/.exec(e.message)?.[1]
}

/** A string option's value, or `undefined`. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name]
  return typeof v === 'string' ? v : undefined
}

/** A repeatable option's values (empty when absent). */
export function list(args: ParsedArgs, name: string): string[] {
  const v = args.values[name]
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : []
}

/** A boolean flag's value. */
export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true
}

/** A non-negative integer option, or `undefined`; throws `CliError` naming the flag otherwise. */
export function intOpt(args: ParsedArgs, cmd: string, name: string): number | undefined {
  const s = str(args, name)
  if (s === undefined) return undefined
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw new CliError(`${cmd}: --${name} must be a non-negative integer`)
  }
  return Number(s)
}

/** A positive integer option, or `undefined`; throws `CliError` naming the flag otherwise. */
export function positiveIntOpt(args: ParsedArgs, cmd: string, name: string): number | undefined {
  const s = str(args, name)
  if (s === undefined) return undefined
  if (!/^[1-9]\d*$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw new CliError(`${cmd}: --${name} must be a positive integer (got '${s.slice(0, 20)}')`)
  }
  return Number(s)
}

/** An RFC 3339 option as epoch ms, or `undefined`; throws `CliError` naming the flag otherwise. */
export function timeOpt(args: ParsedArgs, cmd: string, name: string): number | undefined {
  const s = str(args, name)
  if (s === undefined) return undefined
  const ms = RFC3339_RE.test(s) ? Date.parse(s) : NaN
  if (Number.isNaN(ms))
    throw new CliError(
      `${cmd}: --${name} must be an RFC 3339 timestamp such as 2026-01-02T03:04:05Z`
    )
  return ms
}

/** RFC 3339 date-time with a Z or numeric offset. */
export const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
