/**
 * Where the operator commands find the control plane and the operator's certificate: each of
 * the four settings comes from its flag, else its environment variable, else the config file
 * (`NIXFLEET_CONFIG`, else `$XDG_CONFIG_HOME/nixfleet/config.toml`, else
 * `~/.config/nixfleet/config.toml`). The file is a flat TOML subset — `key = "string"` lines,
 * comments and blank lines — written 0600 by `nixfleet config init`; anything else in it is an
 * error naming the line. A setting found nowhere is an error naming `nixfleet config init`.
 */
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import * as v from 'valibot'
import { suggest } from '../lib/suggest.ts'
import { fsReason } from '../runtime/durable-fs.ts'
import type { OptionSpec, ParsedArgs } from './args.ts'
import { str } from './args.ts'
import { CliError } from './errors.ts'

/** The four connection settings, by config-file key. */
export const SETTINGS = {
  cp_url: { flag: 'cp-url', env: 'NIXFLEET_CP_URL', what: 'control plane URL' },
  ca_cert: { flag: 'ca-cert', env: 'NIXFLEET_CA_CERT', what: 'fleet CA certificate (PEM)' },
  client_cert: {
    flag: 'client-cert',
    env: 'NIXFLEET_CLIENT_CERT',
    what: 'operator certificate (PEM)',
  },
  client_key: { flag: 'client-key', env: 'NIXFLEET_CLIENT_KEY', what: 'operator key (PEM)' },
} as const

type Key = keyof typeof SETTINGS

/** The resolved connection: URL and the PEM files' paths, plus where each came from. */
export type Connection = {
  readonly url: string
  readonly caCert: string
  readonly clientCert: string
  readonly clientKey: string
  /** Where each setting came from (`--cp-url`, `NIXFLEET_CP_URL`, or the file). */
  readonly sources: Readonly<Record<Key, string>>
}

/** The connection flags every operator command accepts (no env fallback: resolved here). */
export const CONNECTION_OPTIONS: Readonly<Record<string, OptionSpec>> = Object.fromEntries(
  Object.values(SETTINGS).map((s) => [
    s.flag,
    {
      type: 'string',
      value: s.flag === 'cp-url' ? 'URL' : 'FILE',
      description: `${s.what} (env ${s.env}, else the config file)`,
    },
  ])
)

const FileSchema = v.strictObject({
  cp_url: v.optional(v.string()),
  ca_cert: v.optional(v.string()),
  client_cert: v.optional(v.string()),
  client_key: v.optional(v.string()),
})

/** The config file's path for `env`. */
export function configPath(env: Readonly<Record<string, string | undefined>>): string {
  if (env['NIXFLEET_CONFIG']) return resolve(env['NIXFLEET_CONFIG'])
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config')
  return join(base, 'nixfleet', 'config.toml')
}

/** Parses the flat TOML subset: `key = "value"`, `#` comments, blank lines. */
export function parseFlatToml(text: string, label: string): Record<string, string> {
  const out: Record<string, string> = {}
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const m = /^([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\\]|\\["\\nt])*)"\s*(#.*)?$/.exec(line)
    if (!m) throw new CliError(`${label}:${i + 1}: expected key = "string"`)
    if (Object.hasOwn(out, m[1]!)) throw new CliError(`${label}:${i + 1}: ${m[1]} is set twice`)
    out[m[1]!] = m[2]!.replace(/\\(["\\nt])/g, (_, c: string) =>
      c === 'n' ? '\n' : c === 't' ? '\t' : c
    )
  })
  return out
}

/** Writes flat string keys as TOML, one `key = "value"` line each. */
export function formatFlatToml(values: Readonly<Record<string, string>>, header: string): string {
  const quote = (s: string) =>
    `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`
  return `# ${header}\n${Object.entries(values)
    .map(([k, val]) => `${k} = ${quote(val)}\n`)
    .join('')}`
}

/** Reads and validates a config file; relative paths in it are relative to its directory. */
export function readConfigFile(path: string): Partial<Record<Key, string>> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new CliError(`config ${path}: ${fsReason(e)}`)
  }
  const parsed = v.safeParse(FileSchema, parseFlatToml(text, path))
  if (!parsed.success) {
    const issue = parsed.issues[0]
    const key = issue.path?.[0]?.key
    const line =
      typeof key === 'string' ? text.split('\n').findIndex((l) => l.trim().startsWith(key)) + 1 : 0
    const msg =
      issue.kind === 'schema' && issue.type === 'strict_object'
        ? unknownKey(String(key))
        : issue.message
    throw new CliError(`${path}${line > 0 ? `:${line}` : ''}: ${msg}`)
  }
  const out: Partial<Record<Key, string>> = {}
  for (const [k, val] of Object.entries(parsed.output) as [Key, string | undefined][]) {
    if (val === undefined) continue
    out[k] = k === 'cp_url' ? val : resolve(dirname(path), val)
  }
  return out
}

/** The control plane URL without a trailing slash; exit 2 naming `source` unless https://HOST[:PORT]. */
export function checkUrl(value: string, source: string): string {
  const bad = (why: string) =>
    new CliError(`control plane URL '${value.slice(0, 80)}' (from ${source}) ${why}`)
  let u: URL
  try {
    u = new URL(value)
  } catch {
    throw bad('must be https://HOST[:PORT] (is https:// missing?)')
  }
  if (u.protocol === 'http:')
    throw bad('uses http: the control plane only speaks https (https://HOST[:PORT])')
  // `127.0.0.1:43609` parses as scheme `127.0.0.1:`; `cp:8443` as scheme `cp:`.
  if (u.protocol !== 'https:' || u.hostname === '')
    throw bad('must be https://HOST[:PORT] (is https:// missing?)')
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username)
    throw bad('must be https://HOST[:PORT], without a path, query or user')
  return `https://${u.host}`
}

/** `unknown key cpurl (did you mean cp_url?)`, or the list of keys when none is close. */
function unknownKey(key: string): string {
  const near = suggest(key, Object.keys(SETTINGS))
  return `unknown key ${key} (${near ? `did you mean ${near}?` : `expected ${Object.keys(SETTINGS).join(', ')}`})`
}

/** Resolves the connection: flags > environment > config file. */
export function resolveConnection(
  args: ParsedArgs,
  env: Readonly<Record<string, string | undefined>> = process.env
): Connection {
  const path = configPath(env)
  let file: Partial<Record<Key, string>> | undefined
  const fromFile = (): Partial<Record<Key, string>> => {
    // A file named on purpose must exist; the default one missing is no settings (the error
    // below names config init and the path).
    if (file === undefined && !existsSync(path) && env['NIXFLEET_CONFIG'])
      throw new CliError(
        `NIXFLEET_CONFIG names ${path}, which does not exist (run nixfleet config init to write it, or unset NIXFLEET_CONFIG)`
      )
    file ??= existsSync(path) ? readConfigFile(path) : {}
    return file
  }
  const values = {} as Record<Key, string>
  const sources = {} as Record<Key, string>
  for (const [key, s] of Object.entries(SETTINGS) as [Key, (typeof SETTINGS)[Key]][]) {
    const flagValue = str(args, s.flag)
    const envValue = env[s.env] || undefined
    const fileValue = (flagValue ?? envValue) ? undefined : fromFile()[key]
    const value = flagValue ?? envValue ?? fileValue
    if (value === undefined)
      throw new CliError(
        `no ${s.what}: pass --${s.flag}, set ${s.env}, or run nixfleet config init (looked in ${path})`
      )
    values[key] = value
    sources[key] = flagValue !== undefined ? `--${s.flag}` : envValue !== undefined ? s.env : path
  }
  return {
    url: checkUrl(values.cp_url, sources.cp_url),
    caCert: values.ca_cert,
    clientCert: values.client_cert,
    clientKey: values.client_key,
    sources,
  }
}
