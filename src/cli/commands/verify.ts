/**
 * `nixfleet verify …`: the offline auditor. Verifies a signed artifact against a trust.json
 * with exactly the pipeline the control plane and agents run (protocol §3.7), and prints one
 * line (or one JSON object) saying what was verified or exactly why not.
 * Exit codes: 0 verified, 1 verification failed, 2 usage or I/O error.
 */
import { canonicalize } from '../../crypto/canonical-json.ts'
import { ed25519Verify } from '../../crypto/ed25519.ts'
import { parsePublicKey } from '../../crypto/keys.ts'
import { p256Verify } from '../../crypto/p256.ts'
import { sha256Hex } from '../../crypto/sha256.ts'
import type { Verified } from '../../crypto/verify-artifact.ts'
import { type FleetResolved, FleetResolvedSchema } from '../../proto/fleet.ts'
import { parseRolloutId } from '../../proto/ids.ts'
import {
  verifyBootstrapNonces,
  verifyFleet,
  verifyRevocations,
  verifyRolloutManifest,
} from '../../release/verify.ts'
import { fromBase64, fromHex } from '../../lib/bytes.ts'
import { type CommandSpec, type ParsedArgs, flag, intOpt, str, timeOpt } from '../args.ts'
import { CliError, EXIT_OK, EXIT_VERIFY_FAILED } from '../errors.ts'
import { readInput } from '../io.ts'
import { checkSchema, loadSignature, loadTrustFile, parseJsonBytes } from '../load.ts'
import type { Command } from '../command.ts'
import { systemClock } from '../../runtime/clock.ts'

/** The default freshness window of offline verification: the CP's 30 days. */
const DEFAULT_FRESHNESS_WINDOW_SECS = 2_592_000

const common = {
  artifact: { type: 'string', value: 'FILE', description: 'the signed JSON file', required: true },
  signature: {
    type: 'string',
    value: 'FILE',
    description: 'its detached .sig (64 raw bytes)',
    required: true,
  },
  'trust-file': {
    type: 'string',
    value: 'FILE',
    description: 'trust.json holding ciReleaseKey',
    required: true,
  },
  now: { type: 'string', value: 'RFC3339', description: 'verify as of this time (default: now)' },
  'freshness-window-secs': {
    type: 'string',
    value: 'N',
    description: 'maximum age of the artifact',
    default: String(DEFAULT_FRESHNESS_WINDOW_SECS),
  },
  json: { type: 'boolean', description: 'print one JSON object instead of a line' },
} as const

type Kind = 'artifact' | 'rollout-manifest' | 'revocations' | 'bootstrap-nonces'

const LABEL: Record<Kind, string> = {
  artifact: 'fleet.resolved',
  'rollout-manifest': 'rollout manifest',
  revocations: 'revocations',
  'bootstrap-nonces': 'bootstrap-nonces',
}

function report(
  args: ParsedArgs,
  kind: Kind,
  out: { ok: boolean; [k: string]: unknown },
  line: string
): number {
  process.stdout.write(flag(args, 'json') ? `${JSON.stringify({ kind, ...out })}\n` : `${line}\n`)
  return out.ok ? EXIT_OK : EXIT_VERIFY_FAILED
}

function failed(args: ParsedArgs, kind: Kind, error: string, message: string): number {
  return report(
    args,
    kind,
    { ok: false, error, message },
    `FAILED ${LABEL[kind]}: ${error}: ${message}`
  )
}

async function runVerify(kind: Kind, args: ParsedArgs): Promise<number> {
  const cmd = `verify ${kind}`
  const trust = await loadTrustFile(str(args, 'trust-file')!)
  const bytes = await readInput(str(args, 'artifact')!, 'artifact')
  const signature = await loadSignature(str(args, 'signature')!)
  const now = timeOpt(args, cmd, 'now') ?? systemClock.now()
  let windowSecs = intOpt(args, cmd, 'freshness-window-secs')!

  const ctx = { slot: trust.ciReleaseKey, now, freshnessWindowSecs: windowSecs }
  let result:
    | { ok: true; verified: Verified<unknown> }
    | { ok: false; error: { kind: string; message: string } }
  if (kind === 'rollout-manifest') {
    const rolloutId = str(args, 'rollout-id')
    if (rolloutId !== undefined && !parseRolloutId(rolloutId)) {
      throw new CliError(
        `${cmd}: --rollout-id must look like CHANNEL@COMMIT (lowercase hex commit)`
      )
    }
    const fleetPath = str(args, 'fleet')
    let fleet: { sha256: string; value: Pick<FleetResolved, 'channels'> } | undefined
    if (fleetPath) {
      const fleetBytes = await readInput(fleetPath, 'fleet')
      const raw = parseJsonBytes(fleetBytes, `fleet ${fleetPath}`)
      const channels = checkSchema(FleetResolvedSchema, raw, `fleet ${fleetPath}`).channels
      fleet = { sha256: sha256Hex(canonicalize(fleetBytes)), value: { channels } }
    }
    const r = await verifyRolloutManifest(bytes, signature, { ...ctx, rolloutId, fleet })
    if (r.ok) windowSecs = r.freshnessWindowSecs
    result = r
  } else if (kind === 'artifact') {
    result = await verifyFleet(bytes, signature, ctx)
  } else if (kind === 'revocations') {
    result = await verifyRevocations(bytes, signature, ctx)
  } else {
    result = await verifyBootstrapNonces(bytes, signature, ctx)
  }
  if (!result.ok) return failed(args, kind, result.error.kind, result.error.message)
  const verified = result.verified

  const summary = {
    ok: true,
    sha256: verified.sha256,
    signedAt: verified.signedAt,
    ciCommit: verified.ciCommit,
    key: verified.key,
    algorithm: verified.algorithm,
    freshnessWindowSecs: windowSecs,
  }
  const what =
    kind === 'rollout-manifest'
      ? `rollout manifest ${(verified.value as { channel: string }).channel}@${verified.ciCommit ?? ''}`
      : LABEL[kind]
  return report(
    args,
    kind,
    summary,
    `ok: ${what} verified — signed ${verified.signedAt} by the ${verified.key} ${verified.algorithm} key, ciCommit ${verified.ciCommit ?? 'null'}, sha256 ${verified.sha256}`
  )
}

function spec(kind: Kind, summary: string, extra: CommandSpec['options'] = {}): CommandSpec {
  return {
    name: `verify ${kind}`,
    summary,
    usage: `nixfleet verify ${kind} --artifact F --signature F --trust-file F [options]`,
    details: 'Exit codes: 0 verified, 1 verification failed, 2 usage or I/O error.',
    options: { ...common, ...extra },
  }
}

/** The declaration of `nixfleet verify signature`. */
const verifySignatureSpec: CommandSpec = {
  name: 'verify signature',
  summary: 'check a detached signature over a file with one public key',
  usage: 'nixfleet verify signature --public-key B64 --message F --signature F',
  details:
    'The signature file holds 64 raw bytes, or their base64 or hex text. The public key is\n' +
    'base64 of the raw key or an OpenSSH ssh-ed25519 line. Exit 0 valid, 1 invalid, 2 bad input.',
  options: {
    'public-key': { type: 'string', value: 'B64', description: 'the public key', required: true },
    message: { type: 'string', value: 'FILE', description: 'the signed bytes', required: true },
    signature: { type: 'string', value: 'FILE', description: 'the signature', required: true },
    algorithm: {
      type: 'string',
      value: 'ALG',
      description: 'ed25519 or ecdsa-p256',
      default: 'ed25519',
    },
    canonicalize: { type: 'boolean', description: 'verify over the RFC 8785 form of the message' },
  },
}

async function verifySignature(args: ParsedArgs): Promise<number> {
  const alg = str(args, 'algorithm')!
  if (alg !== 'ed25519' && alg !== 'ecdsa-p256') {
    throw new CliError('verify signature: --algorithm must be ed25519 or ecdsa-p256')
  }
  const key = parsePublicKey(str(args, 'public-key')!, alg === 'ed25519' ? 32 : 64)
  if (!key.ok) throw new CliError(`verify signature: --public-key: ${key.error}`)
  const msgPath = str(args, 'message')!
  let message = await readInput(msgPath, 'message')
  if (flag(args, 'canonicalize')) {
    parseJsonBytes(message, `message ${msgPath}`)
    message = canonicalize(message)
  }
  const sigPath = str(args, 'signature')!
  const sigRaw = await readInput(sigPath, 'signature')
  const text = new TextDecoder().decode(sigRaw).trim()
  const sig = sigRaw.length === 64 ? sigRaw : (fromHex(text) ?? fromBase64(text))
  if (!sig || sig.length !== 64) {
    throw new CliError(`signature ${sigPath}: expected 64 raw bytes or their hex/base64 text`)
  }
  const ok =
    alg === 'ed25519'
      ? ed25519Verify(sig, message, key.value)
      : await p256Verify(sig, message, key.value)
  process.stdout.write(
    ok ? `ok: signature valid (${alg})\n` : `FAILED: signature does not match the message and key\n`
  )
  return ok ? EXIT_OK : EXIT_VERIFY_FAILED
}

/** The `verify` subcommands. */
export const verifyCommands: Command[] = [
  {
    spec: spec('artifact', 'verify a signed fleet.resolved.json offline'),
    run: (a) => runVerify('artifact', a),
  },
  {
    spec: spec('rollout-manifest', 'verify a signed rollout manifest, its id and fleet anchor', {
      'rollout-id': {
        type: 'string',
        value: 'ID',
        description: 'expected CHANNEL@COMMIT (discriminator check)',
      },
      fleet: {
        type: 'string',
        value: 'FILE',
        description:
          'fleet.resolved.json to check the fleetResolvedHash anchor and channel freshness against',
      },
    }),
    run: (a) => runVerify('rollout-manifest', a),
  },
  {
    spec: spec('revocations', 'verify a signed revocations.json offline'),
    run: (a) => runVerify('revocations', a),
  },
  {
    spec: spec('bootstrap-nonces', 'verify a signed bootstrap-nonces.json offline'),
    run: (a) => runVerify('bootstrap-nonces', a),
  },
  { spec: verifySignatureSpec, run: verifySignature },
]
