/**
 * `nixfleet release`: the CI side. Takes fleet.resolved (a file, stdin, or `nix eval` of a
 * flake), checks it against mkFleet's rules (src/release/fleet-check.ts; before any host is
 * built), takes closures, stamps `meta`, canonicalizes, signs each artifact (local key or the
 * reference's `--sign-cmd` hook), verifies every result, and only then writes the release
 * directory atomically:
 *   fleet.resolved.json{,.sig}, rollouts/<rolloutId>.json{,.sig} per channel with a closure,
 *   revocations.json{,.sig} and bootstrap-nonces.json{,.sig} when given.
 * Invariant: nothing is written unless every artifact was signed and verified.
 */
import { join } from 'node:path'
import { bytesEqual } from '../../lib/bytes.ts'
import { parseRfc3339Ms, toRfc3339 } from '../../proto/common.ts'
import { ReleaseInputError, assembleRelease } from '../../release/assemble.ts'
import type { ReleaseFile } from '../../release/assemble.ts'
import { type CommandSpec, type ParsedArgs, flag, str, timeOpt } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { readInput } from '../io.ts'
import { chooseRestamp } from '../../core/release/restamp.ts'
import { systemClock } from '../../runtime/clock.ts'
import { makeSigner } from './release-signer.ts'
import { resign } from './release-resign.ts'
import { readIfExists, signAndWrite } from './release-write.ts'
import {
  FLAKE_OPTIONS,
  buildClosures,
  evalFleet,
  loadClosures,
  readFleetFile,
  requireValidFleet,
  resolveCiCommit,
} from './release-sources.ts'
import { loadTrustFile, parseJsonBytes } from '../load.ts'

/** The declaration of `nixfleet release`. */
export const releaseSpec: CommandSpec = {
  name: 'release',
  summary: 'sign fleet.resolved and one rollout manifest per channel into a release directory',
  usage:
    'nixfleet release (--fleet FILE | --flake REF) [--closures FILE] (--key FILE | --sign-cmd CMD)\n' +
    '                 [--ci-commit SHA] [--release-dir DIR] [--revocations FILE] [--bootstrap-nonces FILE]\n' +
    '       nixfleet release --resign (--key FILE | --sign-cmd CMD) [--release-dir DIR] [--ci-commit SHA]',
  details:
    'Keys: PKCS#8 PEM (ed25519 or P-256), 32 raw bytes, or 64 hex characters. --sign-cmd runs under\n' +
    'sh -c with NIXFLEET_INPUT (the canonical bytes) and NIXFLEET_OUTPUT (write the raw 64-byte\n' +
    'signature there). --closures maps hostname to a store path or its basename. Every artifact is\n' +
    'verified before anything is written; with --trust-file also against that trust.json.\n' +
    'The fleet is first checked as `nixfleet fleet check` does (unknown keys, unknown channels,\n' +
    'policies and hosts, cycles, freshness); an invalid fleet exits 2, one line per problem.\n' +
    '--resign signs the release directory again with a new signedAt and nothing else changed, so\n' +
    'artifacts stay inside their freshness window: run it from a CI timer (every\n' +
    'signingIntervalMinutes). It refuses (exit 1, nothing written) when the content would change:\n' +
    'everything but meta.signedAt counts, e.g. a pin or bootstrap nonce that expired since, another\n' +
    'signing algorithm, or a --ci-commit other than the released one.',
  options: {
    fleet: {
      type: 'string',
      value: 'FILE',
      description: 'fleet.resolved.json to release ("-" for stdin)',
    },
    flake: FLAKE_OPTIONS.flake,
    'fleet-resolved-attr': FLAKE_OPTIONS['fleet-resolved-attr'],
    'pin-source-url': {
      type: 'string',
      value: 'URL',
      description: 'flake URL for pinned hosts (built at ?rev=COMMIT)',
    },
    nix: FLAKE_OPTIONS.nix,
    closures: {
      type: 'string',
      value: 'FILE',
      description: 'JSON object hostname → closure store path',
    },
    key: {
      type: 'string',
      value: 'FILE',
      description: 'CI release private key',
      env: 'NIXFLEET_RELEASE_KEY',
    },
    'sign-cmd': {
      type: 'string',
      value: 'CMD',
      description: 'external signer hook (HSM, TPM, KMS)',
    },
    'signature-algorithm': {
      type: 'string',
      value: 'ALG',
      description: "ed25519 or ecdsa-p256 (default: the key's)",
    },
    'ci-commit': {
      type: 'string',
      value: 'SHA',
      description: 'release commit (default: git rev-parse HEAD)',
    },
    'release-dir': {
      type: 'string',
      value: 'DIR',
      description: 'output directory',
      default: 'releases',
    },
    revocations: {
      type: 'string',
      value: 'FILE',
      description: 'revocations to sign ({"revocations":[…]})',
    },
    'bootstrap-nonces': {
      type: 'string',
      value: 'FILE',
      description:
        'enrollment allow-list to sign ({"bootstrapNonces":[…]}, optionally "mintedAfter": a floor for token issuedAt)',
    },
    'reuse-unchanged-signature': {
      type: 'boolean',
      description: 'keep signedAt and signature of each artifact that did not change',
    },
    'trust-file': {
      type: 'string',
      value: 'FILE',
      description: 'also verify the results against this trust.json',
    },
    resign: {
      type: 'boolean',
      description: 're-sign the release directory as it is (new signedAt, same content)',
    },
    now: { type: 'string', value: 'RFC3339', description: 'signing time (default: now)' },
  },
}

/** Runs `nixfleet release`. */
export async function release(args: ParsedArgs): Promise<number> {
  if (flag(args, 'resign')) return resign(args)
  if ((str(args, 'fleet') === undefined) === (str(args, 'flake') === undefined)) {
    throw new CliError('release: give exactly one of --fleet FILE or --flake REF')
  }
  const now = timeOpt(args, 'release', 'now') ?? systemClock.now()
  const signer = await makeSigner(args)
  const ciCommit = await resolveCiCommit(args)
  const trust = str(args, 'trust-file') ? await loadTrustFile(str(args, 'trust-file')!) : undefined

  const fromFlake = str(args, 'flake') !== undefined
  const input = fromFlake
    ? await evalFleet(args, 'release')
    : await readFleetFile(str(args, 'fleet')!)
  const checked = requireValidFleet(input)
  const fleetRaw = input.raw
  let closures = fromFlake ? await buildClosures(args, checked, ciCommit) : {}
  if (str(args, 'closures'))
    closures = { ...closures, ...(await loadClosures(str(args, 'closures')!)) }
  const revPath = str(args, 'revocations')
  const noncePath = str(args, 'bootstrap-nonces')
  const revocations = revPath
    ? parseJsonBytes(await readInput(revPath, 'revocations'), `revocations ${revPath}`)
    : undefined
  const bootstrapNonces = noncePath
    ? parseJsonBytes(
        await readInput(noncePath, 'bootstrap-nonces'),
        `bootstrap-nonces ${noncePath}`
      )
    : undefined

  const dir = str(args, 'release-dir')!
  // ReleaseInputError names the artifact ("fleet.resolved: …"); the operator needs the file given.
  const sources: Record<string, string | undefined> = {
    'fleet.resolved': input.source,
    closures: str(args, 'closures') && `closures ${str(args, 'closures')}`,
    revocations: revPath && `revocations ${revPath}`,
    'bootstrap-nonces': noncePath && `bootstrap-nonces ${noncePath}`,
  }
  const withSource = (message: string): string => {
    const m = /^(fleet\.resolved|closures|revocations|bootstrap-nonces): /.exec(message)
    const source = m ? sources[m[1]!] : undefined
    return m && source ? `${source}: ${message.slice(m[0].length)}` : message
  }
  const assemble = (signedAt: string) => {
    try {
      return assembleRelease({
        fleet: fleetRaw,
        closures,
        stamp: { signedAt, ciCommit, signatureAlgorithm: signer.algorithm },
        revocations,
        bootstrapNonces,
      })
    } catch (e) {
      if (e instanceof ReleaseInputError) throw new CliError(withSource(e.message))
      throw e
    }
  }

  const signedAt = toRfc3339(now, 'seconds')
  const fresh = assemble(signedAt)
  const reuse = flag(args, 'reuse-unchanged-signature')
  let built = fresh
  let files = fresh.files
  // Each artifact is judged on its own: the fleet with the manifests projected from it, the
  // revocations and the bootstrap nonces. Only one whose bytes did not change keeps its stamp.
  for (const head of [...new Set(fresh.files.map((f) => artifactOf(f.path)))]) {
    const part = (fs: readonly ReleaseFile[]) => fs.filter((f) => artifactOf(f.path) === head)
    const headBytes = (fs: readonly ReleaseFile[]) => fs.find((f) => f.path === head)!.canonical
    const prev = readIfExists(join(dir, head))
    const prevMark = prev && previousMark(prev)
    const again =
      reuse && prevMark && prevMark.signedAt !== signedAt ? assemble(prevMark.signedAt) : undefined
    const verdict = chooseRestamp({
      reuse,
      previous: prevMark?.mark,
      restampedUnchanged: again !== undefined && bytesEqual(headBytes(again.files), prev!),
      freshUnchanged: prev !== undefined && bytesEqual(headBytes(fresh.files), prev),
      fresh: { signedAtMs: parseRfc3339Ms(signedAt), ciCommit },
    })
    if (verdict === 'not-newer') {
      throw new CliError(
        `release: ${join(dir, head)} changed, but signedAt ${signedAt} (ciCommit ${ciCommit}) is not newer than the released ${prevMark!.signedAt} (ciCommit ${prevMark!.mark.ciCommit}); consumers would refuse it as a rollback; nothing written`
      )
    }
    if (verdict === 'reuse' && again) {
      files = [...files.filter((f) => artifactOf(f.path) !== head), ...part(again.files)]
      if (head === 'fleet.resolved.json') built = again
    }
  }
  // Fleet first, as assembled: the caller below relies on it.
  files = fresh.files.map((f) => files.find((g) => g.path === f.path)!)

  const signed = await signAndWrite(dir, files, signer, trust?.ciReleaseKey, now)
  const fleetSigned = signed[0]!
  process.stdout.write(
    `released ${join(dir, 'fleet.resolved.json')} (ciCommit ${ciCommit}, signedAt ${built.fleet.meta.signedAt}, sha256 ${built.fleetHash})${fleetSigned.reused ? ' — unchanged, signature reused' : ''}\n`
  )
  for (const { file, reused } of signed.slice(1)) {
    process.stdout.write(`  ${join(dir, file.path)}${reused ? ' (unchanged)' : ''}\n`)
  }
  if (built.rolloutIds.length === 0) {
    process.stderr.write(
      'nixfleet: warning: no host has a closureHash, so no rollout manifest was produced\n'
    )
  }
  return EXIT_OK
}

/** Which artifact a release file belongs to: manifests are projected from the fleet. */
function artifactOf(path: string): string {
  return path.startsWith('rollouts/') ? 'fleet.resolved.json' : path
}

/** The stamp of a released artifact, if it has a readable one. */
function previousMark(
  bytes: Uint8Array
): { signedAt: string; mark: { signedAtMs: number; ciCommit: string | null } } | undefined {
  try {
    const raw = parseJsonBytes(bytes, 'previous artifact') as {
      meta?: { signedAt?: unknown; ciCommit?: unknown }
    }
    const s = raw.meta?.signedAt
    const c = raw.meta?.ciCommit
    if (typeof s !== 'string' || Number.isNaN(parseRfc3339Ms(s))) return undefined
    return {
      signedAt: s,
      mark: { signedAtMs: parseRfc3339Ms(s), ciCommit: typeof c === 'string' ? c : null },
    }
  } catch {
    return undefined
  }
}
