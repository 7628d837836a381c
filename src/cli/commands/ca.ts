/**
 * `nixfleet ca init`: a file-backed fleet CA for labs and tests — `DIR/ca.pem`, `DIR/ca.key`
 * (P-256, 0600) and a CP server certificate `DIR/server.pem` / `DIR/server.key` for the names
 * given (default `localhost` and `127.0.0.1`). Production fleets keep the CA key offline or in
 * a TPM; certificates made with plain `openssl` work the same way.
 * Invariant: never overwrites an existing CA key without `--force`.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createCa, issueServerCert } from '../../pki/ca.ts'
import { type CommandSpec, type ParsedArgs, flag, intOpt, list, str } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { writeAtomic } from '../io.ts'
import { systemClock } from '../../runtime/clock.ts'

/** The declaration of `nixfleet ca init`. */
export const caInitSpec: CommandSpec = {
  name: 'ca init',
  summary: 'create a fleet CA and a control-plane server certificate',
  usage: 'nixfleet ca init --out DIR [--server-name NAME …] [--force]',
  details: 'Writes DIR/ca.pem, DIR/ca.key (0600), DIR/server.pem and DIR/server.key (0600).',
  options: {
    out: { type: 'string', value: 'DIR', description: 'output directory', required: true },
    'server-name': {
      type: 'string',
      value: 'NAME',
      description: 'DNS name or IP of the CP (default localhost, 127.0.0.1)',
      multiple: true,
    },
    'common-name': {
      type: 'string',
      value: 'CN',
      description: 'CA common name',
      default: 'NixFleet fleet CA',
    },
    'validity-days': { type: 'string', value: 'N', description: 'CA lifetime', default: '3650' },
    'server-validity-days': {
      type: 'string',
      value: 'N',
      description: 'server certificate lifetime',
      default: '825',
    },
    force: { type: 'boolean', description: 'overwrite existing files' },
  },
}

/** Runs `nixfleet ca init`. */
export async function caInit(args: ParsedArgs): Promise<number> {
  const dir = str(args, 'out')!
  const names = list(args, 'server-name')
  const serverNames = names.length > 0 ? names : ['localhost', '127.0.0.1']
  const files = ['ca.pem', 'ca.key', 'server.pem', 'server.key'].map((f) => join(dir, f))
  for (const f of files) {
    if (existsSync(f) && !flag(args, 'force'))
      throw new CliError(`ca init: ${f} already exists (use --force to overwrite)`)
  }
  const validityDays = intOpt(args, 'ca init', 'validity-days')!
  const serverDays = intOpt(args, 'ca init', 'server-validity-days')!
  if (validityDays < 1 || serverDays < 1)
    throw new CliError('ca init: validity must be at least 1 day')
  const now = systemClock.now()
  const ca = await createCa({ commonName: str(args, 'common-name')!, validityDays, now })
  let server
  try {
    server = await issueServerCert({ ca, names: serverNames, now, validityDays: serverDays })
  } catch (e) {
    throw new CliError(`ca init: ${e instanceof Error ? e.message : String(e)}`)
  }
  mkdirSync(dir, { recursive: true })
  writeAtomic(join(dir, 'ca.pem'), ca.certPem)
  writeAtomic(join(dir, 'ca.key'), ca.keyPem, 0o600)
  writeAtomic(join(dir, 'server.pem'), server.certPem)
  writeAtomic(join(dir, 'server.key'), server.keyPem, 0o600)
  process.stderr.write(`wrote ${files.join(', ')} (server names: ${serverNames.join(', ')})\n`)
  return EXIT_OK
}
