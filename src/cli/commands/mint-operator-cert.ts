/**
 * `nixfleet mint-operator-cert`: an operator client certificate (`CN=operator-NAME`, P-256,
 * clientAuth) from the fleet CA in `--ca DIR` (`ca.pem` + `ca.key`), written to `PREFIX.pem`
 * and `PREFIX.key` (0600). Operator certificates reach operator routes only (DECISIONS §3.12);
 * `--role viewer` issues a read-only `CN=viewer-NAME` (GET routes and /metrics, never an action).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createOperatorCert } from '../../pki/ca.ts'
import { readCaFiles } from '../../pki/cert.ts'
import { type CommandSpec, type ParsedArgs, flag, intOpt, str } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { writeAtomic } from '../io.ts'
import { systemClock } from '../../runtime/clock.ts'

/** The declaration of `nixfleet mint-operator-cert`. */
export const mintOperatorCertSpec: CommandSpec = {
  name: 'mint-operator-cert',
  summary: 'issue an operator (or read-only viewer) client certificate from the fleet CA',
  usage: 'nixfleet mint-operator-cert --ca DIR --name NAME --out PREFIX [--role viewer]',
  options: {
    ca: {
      type: 'string',
      value: 'DIR',
      description: 'directory holding ca.pem and ca.key',
      required: true,
    },
    name: {
      type: 'string',
      value: 'NAME',
      description: 'operator name (CN operator-NAME)',
      required: true,
    },
    out: {
      type: 'string',
      value: 'PREFIX',
      description: 'writes PREFIX.pem and PREFIX.key',
      required: true,
    },
    role: {
      type: 'string',
      value: 'ROLE',
      description: 'operator (every route) or viewer (read-only: GET routes and /metrics)',
      default: 'operator',
    },
    'validity-days': {
      type: 'string',
      value: 'N',
      description: 'certificate lifetime',
      default: '365',
    },
    force: { type: 'boolean', description: 'overwrite existing files' },
  },
}

/** Runs `nixfleet mint-operator-cert`. */
export async function mintOperatorCert(args: ParsedArgs): Promise<number> {
  const dir = str(args, 'ca')!
  const name = str(args, 'name')!
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name)) {
    throw new CliError(
      'mint-operator-cert: --name must be 1-64 characters of letters, digits, . _ @ -'
    )
  }
  const role = str(args, 'role')!
  if (role !== 'operator' && role !== 'viewer')
    throw new CliError('mint-operator-cert: --role must be operator or viewer')
  const prefix = str(args, 'out')!
  for (const f of [`${prefix}.pem`, `${prefix}.key`]) {
    if (existsSync(f) && !flag(args, 'force'))
      throw new CliError(`mint-operator-cert: ${f} already exists (use --force to overwrite)`)
  }
  const ca = await readCaFiles({ certPath: join(dir, 'ca.pem'), keyPath: join(dir, 'ca.key') })
  if (!ca.ok) throw new CliError(`mint-operator-cert: ${ca.error}`)
  const validityDays = intOpt(args, 'mint-operator-cert', 'validity-days')!
  if (validityDays < 1) throw new CliError('mint-operator-cert: --validity-days must be at least 1')
  const cert = await createOperatorCert({
    ca: ca.value,
    name,
    now: systemClock.now(),
    validityDays,
    role,
  })
  writeAtomic(`${prefix}.pem`, cert.certPem)
  writeAtomic(`${prefix}.key`, cert.keyPem, 0o600)
  process.stderr.write(`wrote ${prefix}.pem and ${prefix}.key (CN ${role}-${name})\n`)
  return EXIT_OK
}
