/**
 * `nixfleet trust init`: writes a valid `trust.json` (schemaVersion 1) from public keys and CA
 * certificates. Keys may be given as base64 or as a path to a `.pub` file; each is checked to
 * be the right length for its algorithm before anything is written.
 */
import { existsSync, readFileSync } from 'node:fs'
import { parsePublicKey } from '../../crypto/keys.ts'
import { toBase64 } from '../../lib/bytes.ts'
import { type CommandSpec, type ParsedArgs, flag, list, str, timeOpt } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { readText, writeAtomic } from '../io.ts'

const ALGORITHMS = ['ed25519', 'ecdsa-p256'] as const

/** The declaration of `nixfleet trust init`. */
export const trustInitSpec: CommandSpec = {
  name: 'trust init',
  summary: 'write a trust.json with the CI release key, org root key and CA certificates',
  usage:
    'nixfleet trust init --ci-release-key PUB [--org-root-key PUB] [--root-ca PEM …] [--out FILE]',
  details:
    'PUB is base64 of the raw public key or a path to a file holding it (a .pub from keygen, or an\n' +
    'OpenSSH ssh-ed25519 line). Without --out the file is printed on stdout.',
  options: {
    'ci-release-key': {
      type: 'string',
      value: 'PUB',
      description: 'current CI release public key',
      required: true,
    },
    'ci-release-algorithm': {
      type: 'string',
      value: 'ALG',
      description: 'ed25519 or ecdsa-p256',
      default: 'ed25519',
    },
    'previous-ci-release-key': {
      type: 'string',
      value: 'PUB',
      description: 'previous CI key (rotation grace)',
    },
    'successor-ci-release-key': {
      type: 'string',
      value: 'PUB',
      description: 'successor CI key, valid until --retire-at',
    },
    'retire-at': {
      type: 'string',
      value: 'RFC3339',
      description: 'end of the successor key window',
    },
    'reject-before': {
      type: 'string',
      value: 'RFC3339',
      description: 'refuse artifacts signed before this (compromise kill-switch)',
    },
    'org-root-key': {
      type: 'string',
      value: 'PUB',
      description: 'org root public key (bootstrap tokens)',
    },
    'root-ca': {
      type: 'string',
      value: 'PEM',
      multiple: true,
      description: 'fleet root CA certificate file',
    },
    'issuance-ca': {
      type: 'string',
      value: 'PEM',
      multiple: true,
      description: 'issuance CA certificate file',
    },
    'cache-key': {
      type: 'string',
      value: 'KEY',
      multiple: true,
      description: 'Nix binary cache key name:base64',
    },
    out: {
      type: 'string',
      value: 'FILE',
      description: 'write here (atomically) instead of stdout',
    },
    force: { type: 'boolean', description: 'overwrite an existing --out file' },
  },
}

function readKey(
  value: string,
  flagName: string,
  algorithm: string
): { algorithm: string; public: string } {
  const len = algorithm === 'ecdsa-p256' ? 64 : 32
  let parsed = parsePublicKey(value, len)
  if (!parsed.ok) {
    // Not a key itself: then it names a file holding one.
    if (existsSync(value)) {
      let text: string
      try {
        text = readFileSync(value, 'utf8')
      } catch {
        throw new CliError(`trust init: --${flagName} ${value}: cannot read file`)
      }
      parsed = parsePublicKey(text, len)
      if (!parsed.ok) throw new CliError(`trust init: --${flagName} ${value}: ${parsed.error}`)
    } else if (value.startsWith('/') || value.startsWith('.') || value.endsWith('.pub')) {
      throw new CliError(`trust init: --${flagName} ${value}: no such file`)
    } else {
      throw new CliError(`trust init: --${flagName}: ${parsed.error}`)
    }
  }
  return { algorithm, public: toBase64(parsed.value) }
}

async function readPems(paths: string[], flagName: string): Promise<string[]> {
  const out: string[] = []
  for (const p of paths) {
    const pem = await readText(p, `--${flagName}`)
    if (!/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(pem)) {
      throw new CliError(`trust init: --${flagName} ${p}: not a PEM certificate`)
    }
    out.push(pem.trim() + '\n')
  }
  return out
}

/** Runs `nixfleet trust init`. */
export async function trustInit(args: ParsedArgs): Promise<number> {
  const alg = str(args, 'ci-release-algorithm')!
  if (!(ALGORITHMS as readonly string[]).includes(alg)) {
    throw new CliError(`trust init: --ci-release-algorithm must be one of ${ALGORITHMS.join(', ')}`)
  }
  const successor = str(args, 'successor-ci-release-key')
  const retireAtMs = timeOpt(args, 'trust init', 'retire-at')
  timeOpt(args, 'trust init', 'reject-before')
  if (successor && retireAtMs === undefined) {
    throw new CliError('trust init: --successor-ci-release-key needs --retire-at')
  }
  const previous = str(args, 'previous-ci-release-key')
  const orgRoot = str(args, 'org-root-key')
  const roots = await readPems(list(args, 'root-ca'), 'root-ca')
  const trust = {
    schemaVersion: 1,
    ciReleaseKey: {
      current: readKey(str(args, 'ci-release-key')!, 'ci-release-key', alg),
      previous: previous ? readKey(previous, 'previous-ci-release-key', alg) : null,
      rejectBefore: str(args, 'reject-before') ?? null,
      successor: successor ? readKey(successor, 'successor-ci-release-key', alg) : null,
      retireAt: successor ? str(args, 'retire-at')! : null,
    },
    cacheKeys: list(args, 'cache-key'),
    orgRootKey: orgRoot
      ? {
          current: readKey(orgRoot, 'org-root-key', 'ed25519'),
          previous: null,
          rejectBefore: null,
          successor: null,
          retireAt: null,
        }
      : null,
    rootCaPem: roots.length > 0 ? roots.join('') : null,
    issuanceCaPems: await readPems(list(args, 'issuance-ca'), 'issuance-ca'),
  }
  const text = `${JSON.stringify(trust, null, 2)}\n`
  const out = str(args, 'out')
  if (!out) {
    process.stdout.write(text)
    return EXIT_OK
  }
  if (existsSync(out) && !flag(args, 'force')) {
    throw new CliError(`trust init: ${out} already exists (use --force to overwrite)`)
  }
  writeAtomic(out, text)
  process.stderr.write(`wrote ${out}\n`)
  return EXIT_OK
}
