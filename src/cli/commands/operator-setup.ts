/**
 * The operator's setup commands: `nixfleet config init` (writes the connection settings to the
 * config file, 0600), `nixfleet derive-pubkey KEYFILE` (the base64 public key of a private key,
 * the form trust.json holds) and `nixfleet completion bash|zsh|fish`.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { ed25519PublicKey } from '../../crypto/ed25519.ts'
import { parseSigningKey } from '../../crypto/keys.ts'
import { toBase64 } from '../../lib/bytes.ts'
import type { Command } from '../command.ts'
import { type CommandSpec, type ParsedArgs, flag, str } from '../args.ts'
import { completionScript } from '../completion.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { readInput, writeAtomic } from '../io.ts'
import { CONNECTION_OPTIONS, SETTINGS, configPath, formatFlatToml } from '../operator-config.ts'

const initSpec: CommandSpec = {
  name: 'config init',
  summary: 'write the operator connection settings (~/.config/nixfleet/config.toml, 0600)',
  usage:
    'nixfleet config init --cp-url URL --ca-cert FILE --client-cert FILE --client-key FILE [--force]',
  details:
    'The file is $NIXFLEET_CONFIG, else $XDG_CONFIG_HOME/nixfleet/config.toml, else\n' +
    '~/.config/nixfleet/config.toml. Operator commands take each setting from its flag, else\n' +
    'its environment variable (NIXFLEET_CP_URL, NIXFLEET_CA_CERT, NIXFLEET_CLIENT_CERT,\n' +
    'NIXFLEET_CLIENT_KEY), else this file. Paths are stored absolute.',
  options: {
    ...Object.fromEntries(
      Object.entries(CONNECTION_OPTIONS).map(([k, o]) => [k, { ...o, required: true }])
    ),
    force: { type: 'boolean', description: 'overwrite an existing file' },
  },
}

async function configInit(args: ParsedArgs): Promise<number> {
  const path = configPath(process.env)
  if (existsSync(path) && !flag(args, 'force'))
    throw new CliError(`config init: ${path} already exists (use --force to overwrite)`)
  const values: Record<string, string> = {}
  for (const [key, s] of Object.entries(SETTINGS)) {
    const val = str(args, s.flag)!
    if (key === 'cp_url') {
      if (!/^https:\/\/[^/]/.test(val))
        throw new CliError(`config init: --cp-url must be an https:// URL, got '${val}'`)
      values[key] = val
    } else {
      const abs = resolve(val)
      if (!existsSync(abs)) throw new CliError(`config init: --${s.flag} ${abs}: no such file`)
      values[key] = abs
    }
  }
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  } catch (e) {
    throw new CliError(`config init: cannot create ${dirname(path)}: ${String(e)}`)
  }
  writeAtomic(
    path,
    formatFlatToml(values, 'nixfleet operator connection (nixfleet config init)'),
    0o600
  )
  process.stderr.write(`wrote ${path} (0600)\n`)
  return EXIT_OK
}

const pubSpec: CommandSpec = {
  name: 'derive-pubkey',
  summary: 'print the base64 public key of a private signing key (the form trust.json holds)',
  usage: 'nixfleet derive-pubkey KEYFILE',
  details:
    'Reads PKCS#8 PEM, OpenSSH, raw 32-byte or hex ed25519 keys and P-256 PKCS#8 keys ("-" is\n' +
    'stdin). ed25519: 32 raw bytes; P-256: 64 bytes X‖Y; both base64.',
  positionals: { min: 1, max: 1, names: 'KEYFILE' },
  options: {},
}

async function derivePubkey(args: ParsedArgs): Promise<number> {
  const file = args.positionals[0]!
  const parsed = parseSigningKey(await readInput(file, 'key'))
  if (!parsed.ok) throw new CliError(`key ${file}: ${parsed.error}`)
  const key = parsed.value
  let pub: Uint8Array
  if (key.algorithm === 'ed25519') pub = ed25519PublicKey(key.seed)
  else {
    const jwk = createPublicKey(
      createPrivateKey({ key: Buffer.from(key.pkcs8), format: 'der', type: 'pkcs8' })
    ).export({ format: 'jwk' })
    pub = new Uint8Array([
      ...Buffer.from(jwk.x ?? '', 'base64url'),
      ...Buffer.from(jwk.y ?? '', 'base64url'),
    ])
  }
  process.stdout.write(`${toBase64(pub)}\n`)
  return EXIT_OK
}

const completionSpec: CommandSpec = {
  name: 'completion',
  summary: 'print the shell completion script (bash, zsh or fish)',
  usage: 'nixfleet completion bash|zsh|fish',
  details:
    'bash: source <(nixfleet completion bash); zsh: nixfleet completion zsh > "${fpath[1]}/_nixfleet";\n' +
    'fish: nixfleet completion fish > ~/.config/fish/completions/nixfleet.fish. The Nix package\n' +
    'installs all three.',
  positionals: { min: 1, max: 1, names: 'SHELL (bash, zsh or fish)' },
  options: {},
}

async function completion(args: ParsedArgs): Promise<number> {
  const shell = args.positionals[0]!
  if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish')
    throw new CliError(`completion: unknown shell '${shell.slice(0, 20)}' (bash, zsh or fish)`)
  // Loaded here: the registry imports this module, so a static import would be circular.
  const { commands } = await import('../registry.ts')
  process.stdout.write(completionScript(shell, commands))
  return EXIT_OK
}

/** The setup commands. */
export const setupCommands: readonly Command[] = [
  { spec: initSpec, run: configInit },
  { spec: pubSpec, run: derivePubkey },
  { spec: completionSpec, run: completion },
]
