/**
 * `nixfleet mint-token` (spec protocol.md §3.5): a single-use bootstrap token for one host,
 * signed by the org root key over JCS(claims), and the `bootstrapNonces` entry the operator adds
 * to the signed allow-list. The fingerprint is base64(sha256(raw ed25519 host key)), taken from
 * the host's `pubkey` in fleet.resolved or given directly.
 * Output: the token JSON on stdout (or `--out FILE`, 0600, and then the allow-list entry on
 * stdout); otherwise the allow-list entry goes to stderr. Timestamps are whole-second UTC, so
 * verifiers that re-serialize the claims (the reference) agree byte for byte.
 */
import { canonicalizeValue } from '../../crypto/canonical-json.ts'
import { ed25519Sign } from '../../crypto/ed25519.ts'
import { parseOpenSshPublicKey, parseSigningKey } from '../../crypto/keys.ts'
import { sha256Bytes } from '../../crypto/sha256.ts'
import { toBase64, toHex, utf8 } from '../../lib/bytes.ts'
import { FleetResolvedSchema } from '../../proto/fleet.ts'
import { BOOTSTRAP_TOKEN_VERSION } from '../../proto/bootstrap.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { type CommandSpec, type ParsedArgs, intOpt, str } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { readInput, writeAtomic } from '../io.ts'
import { loadJsonFile } from '../load.ts'
import { systemClock } from '../../runtime/clock.ts'

/** The declaration of `nixfleet mint-token`. */
export const mintTokenSpec: CommandSpec = {
  name: 'mint-token',
  summary: 'mint a single-use bootstrap token for a host',
  usage:
    'nixfleet mint-token --hostname H (--fleet-resolved FILE | --csr-pubkey-fingerprint FP | --pubkey LINE)\n' +
    '                    --org-root-key FILE [--validity-hours 24] [--out FILE]',
  details:
    'The org root key may be PKCS#8 PEM, 32 raw bytes or 64 hex characters (ed25519). Add the printed\n' +
    'bootstrapNonces entry to the signed allow-list; the control plane refuses nonces not on it.',
  options: {
    hostname: { type: 'string', value: 'H', description: 'the host to enrol', required: true },
    'fleet-resolved': {
      type: 'string',
      value: 'FILE',
      description: 'fleet.resolved.json declaring the host pubkey',
    },
    'csr-pubkey-fingerprint': {
      type: 'string',
      value: 'FP',
      description: 'base64(sha256(raw ed25519 pubkey))',
    },
    pubkey: {
      type: 'string',
      value: 'LINE',
      description: 'the host key as an "ssh-ed25519 AAAA…" line',
    },
    'org-root-key': {
      type: 'string',
      value: 'FILE',
      description: 'org root private key',
      required: true,
      env: 'NIXFLEET_ORG_ROOT_KEY',
    },
    'validity-hours': { type: 'string', value: 'N', description: 'token lifetime', default: '24' },
    version: { type: 'string', value: 'N', description: 'token version', default: '1' },
    'minted-by': { type: 'string', value: 'WHO', description: 'recorded in the allow-list entry' },
    out: { type: 'string', value: 'FILE', description: 'write the token here (0600)' },
  },
}

function fingerprintOf(pubkeyLine: string, what: string): string {
  const key = parseOpenSshPublicKey(pubkeyLine)
  if (!key.ok) throw new CliError(`mint-token: ${what}: ${key.error}`)
  return toBase64(sha256Bytes(key.value))
}

/** Runs `nixfleet mint-token`. */
export async function mintToken(args: ParsedArgs): Promise<number> {
  const hostname = str(args, 'hostname')!
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(hostname))
    throw new CliError('mint-token: --hostname is not a valid hostname')
  const sources = ['fleet-resolved', 'csr-pubkey-fingerprint', 'pubkey'].filter(
    (k) => str(args, k) !== undefined
  )
  if (sources.length !== 1) {
    throw new CliError(
      'mint-token: give exactly one of --fleet-resolved, --csr-pubkey-fingerprint, --pubkey'
    )
  }
  let fingerprint: string
  const fleetPath = str(args, 'fleet-resolved')
  if (fleetPath !== undefined) {
    const fleet = (await loadJsonFile(fleetPath, FleetResolvedSchema, 'fleet')).value
    const host = Object.hasOwn(fleet.hosts, hostname) ? fleet.hosts[hostname as never] : undefined
    if (host === undefined)
      throw new CliError(`mint-token: host ${hostname} is not in ${fleetPath}`)
    if (host.pubkey === null)
      throw new CliError(`mint-token: host ${hostname} has no pubkey in ${fleetPath}`)
    fingerprint = fingerprintOf(host.pubkey, `hosts.${hostname}.pubkey`)
  } else if (str(args, 'pubkey') !== undefined) {
    fingerprint = fingerprintOf(str(args, 'pubkey')!, '--pubkey')
  } else {
    fingerprint = str(args, 'csr-pubkey-fingerprint')!
    const raw = Buffer.from(fingerprint, 'base64')
    if (raw.length !== 32 || raw.toString('base64') !== fingerprint) {
      throw new CliError(
        'mint-token: --csr-pubkey-fingerprint must be base64 of a 32-byte SHA-256 digest'
      )
    }
  }
  const version = intOpt(args, 'mint-token', 'version')!
  if (version !== BOOTSTRAP_TOKEN_VERSION)
    throw new CliError(`mint-token: only token version ${BOOTSTRAP_TOKEN_VERSION} exists`)
  const hours = intOpt(args, 'mint-token', 'validity-hours')!
  if (hours < 1) throw new CliError('mint-token: --validity-hours must be at least 1')
  const keyPath = str(args, 'org-root-key')!
  const key = parseSigningKey(await readInput(keyPath, 'org root key'))
  if (!key.ok) throw new CliError(`mint-token: org root key ${keyPath}: ${key.error}`)
  if (key.value.algorithm !== 'ed25519')
    throw new CliError('mint-token: the org root key must be ed25519')

  const now = Math.floor(systemClock.now() / 1000) * 1000
  const claims = {
    hostname,
    expectedPubkeyFingerprint: fingerprint,
    issuedAt: toRfc3339(now, 'seconds'),
    expiresAt: toRfc3339(now + hours * 3600_000, 'seconds'),
    nonce: toHex(crypto.getRandomValues(new Uint8Array(16))),
  }
  const signature = toBase64(ed25519Sign(utf8(canonicalizeValue(claims)), key.value.seed))
  const token = `${JSON.stringify({ version, claims, signature }, null, 2)}\n`
  const entry = `${JSON.stringify({
    nonce: claims.nonce,
    hostname,
    expiresAt: claims.expiresAt,
    mintedAt: claims.issuedAt,
    mintedBy: str(args, 'minted-by') ?? null,
  })}\n`
  const out = str(args, 'out')
  if (out !== undefined) {
    writeAtomic(out, token, 0o600)
    process.stdout.write(entry)
    process.stderr.write(
      `wrote ${out}; add the entry above to bootstrapNonces and sign a release\n`
    )
  } else {
    process.stdout.write(token)
    process.stderr.write(`bootstrapNonces entry: ${entry}`)
  }
  return EXIT_OK
}
