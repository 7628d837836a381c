/**
 * `nixfleet keygen`: a fresh ed25519 key pair for CI release signing or the org root.
 * Invariant: never overwrites an existing key (a lost signing key cannot be recovered)
 * unless `--force` is given.
 */
import { existsSync } from 'node:fs'
import { toBase64 } from '../../lib/bytes.ts'
import { ed25519PublicKey, ed25519RandomSeed } from '../../crypto/ed25519.ts'
import { ed25519SeedToPkcs8Pem, formatOpenSshPublicKey } from '../../crypto/keys.ts'
import { type CommandSpec, flag, str } from '../args.ts'
import type { ParsedArgs } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { writeAtomic } from '../io.ts'

/** The declaration of `nixfleet keygen`. */
export const keygenSpec: CommandSpec = {
  name: 'keygen',
  summary: 'generate an ed25519 signing key pair',
  usage: 'nixfleet keygen --out PREFIX [--ssh] [--force]',
  details:
    'Writes PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (base64 of the raw 32-byte public\n' +
    'key, the form trust.json expects) and prints the public key.',
  options: {
    out: {
      type: 'string',
      value: 'PREFIX',
      description: 'path prefix of the key files',
      required: true,
    },
    ssh: { type: 'boolean', description: 'also print the OpenSSH public key line' },
    comment: { type: 'string', value: 'TEXT', description: 'comment for the OpenSSH line' },
    force: { type: 'boolean', description: 'overwrite existing key files' },
  },
}

/** Runs `nixfleet keygen`. */
export async function keygen(args: ParsedArgs): Promise<number> {
  const prefix = str(args, 'out')!
  const keyPath = `${prefix}.key`
  const pubPath = `${prefix}.pub`
  for (const p of [keyPath, pubPath]) {
    if (existsSync(p) && !flag(args, 'force')) {
      throw new CliError(`keygen: ${p} already exists (use --force to overwrite)`)
    }
  }
  const seed = ed25519RandomSeed()
  const pub = toBase64(ed25519PublicKey(seed))
  writeAtomic(keyPath, ed25519SeedToPkcs8Pem(seed), 0o600)
  writeAtomic(pubPath, `${pub}\n`, 0o644)
  process.stdout.write(`${pub}\n`)
  if (flag(args, 'ssh')) {
    process.stdout.write(
      `${formatOpenSshPublicKey(ed25519PublicKey(seed), str(args, 'comment'))}\n`
    )
  }
  process.stderr.write(`wrote ${keyPath} (private, 0600) and ${pubPath}\n`)
  return EXIT_OK
}
