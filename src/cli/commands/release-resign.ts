/**
 * `nixfleet release --resign`: the freshness contract's CI side. Signed artifacts expire (each
 * channel's `freshnessWindow`), so a CI timer signs the release directory again: the released
 * fleet (with its closures), revocations and bootstrap nonces are re-assembled with a new
 * `signedAt` and the released `ciCommit`, so every rollout keeps its id and the control plane
 * continues it instead of opening a new one.
 * Invariants: the content (everything but `meta.signedAt`, src/release/resign.ts) of every
 * artifact is unchanged, or nothing is written; the new `signedAt` is newer than the released
 * one (consumers refuse anything else as a rollback).
 */
import { join } from 'node:path'
import type { JsonValue } from '../../crypto/canonical-json.ts'
import { parseRfc3339Ms, toRfc3339 } from '../../proto/common.ts'
import { ReleaseInputError, assembleRelease } from '../../release/assemble.ts'
import { resignChange } from '../../release/resign.ts'
import { systemClock } from '../../runtime/clock.ts'
import { type ParsedArgs, str, timeOpt } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { loadTrustFile, parseJsonBytes } from '../load.ts'
import { makeSigner } from './release-signer.ts'
import { readIfExists, signAndWrite } from './release-write.ts'

// What a re-sign takes from the release directory: it re-signs what was released, nothing else.
const INPUT_FLAGS = ['fleet', 'flake', 'closures', 'revocations', 'bootstrap-nonces'] as const

/** Runs `nixfleet release --resign`. */
export async function resign(args: ParsedArgs): Promise<number> {
  const given = INPUT_FLAGS.filter((f) => str(args, f) !== undefined)
  if (given.length > 0) {
    throw new CliError(
      `release --resign re-signs the release directory as it is; it takes no --${given.join(', --')} (release a change without --resign)`
    )
  }
  const dir = str(args, 'release-dir')!
  const now = timeOpt(args, 'release', 'now') ?? systemClock.now()
  const signer = await makeSigner(args)
  const trust = str(args, 'trust-file') ? await loadTrustFile(str(args, 'trust-file')!) : undefined

  const released = new Map<string, JsonValue>()
  for (const path of ['fleet.resolved.json', 'revocations.json', 'bootstrap-nonces.json']) {
    const bytes = readIfExists(join(dir, path))
    if (bytes !== undefined) released.set(path, parseJsonBytes(bytes, join(dir, path)))
  }
  const fleet = released.get('fleet.resolved.json')
  if (fleet === undefined) {
    throw new CliError(
      `release --resign: ${join(dir, 'fleet.resolved.json')} does not exist; run nixfleet release first`
    )
  }
  const meta = (fleet as { meta?: { signedAt?: unknown; ciCommit?: unknown } }).meta
  const prevSignedAt = typeof meta?.signedAt === 'string' ? meta.signedAt : undefined
  const prevCommit = typeof meta?.ciCommit === 'string' ? meta.ciCommit : undefined
  if (prevSignedAt === undefined || prevCommit === undefined) {
    throw new CliError(
      `release --resign: ${join(dir, 'fleet.resolved.json')} has no meta.signedAt and meta.ciCommit`
    )
  }
  const signedAt = toRfc3339(now, 'seconds')
  if (!(parseRfc3339Ms(signedAt) > parseRfc3339Ms(prevSignedAt))) {
    throw new CliError(
      `release --resign: signedAt ${signedAt} is not newer than the released ${prevSignedAt}; consumers would refuse it as a rollback; nothing written`
    )
  }

  let built
  try {
    built = assembleRelease({
      fleet,
      closures: {},
      stamp: {
        signedAt,
        ciCommit: str(args, 'ci-commit') ?? prevCommit,
        signatureAlgorithm: signer.algorithm,
      },
      revocations: released.get('revocations.json'),
      bootstrapNonces: released.get('bootstrap-nonces.json'),
    })
  } catch (e) {
    if (e instanceof ReleaseInputError) throw new CliError(`release --resign: ${dir}: ${e.message}`)
    throw e
  }
  const resigned = new Map<string, JsonValue>()
  for (const f of built.files) {
    if (!f.path.startsWith('rollouts/'))
      resigned.set(f.path, parseJsonBytes(f.canonical, `re-signed ${f.path}`))
  }
  const change = resignChange(released, resigned)
  if (change !== undefined) {
    throw new CliError(
      `release --resign: the content would change (${change}); a re-sign keeps everything but meta.signedAt, so release the change with nixfleet release; nothing written`
    )
  }

  const signed = await signAndWrite(dir, built.files, signer, trust?.ciReleaseKey, now)
  process.stdout.write(
    `re-signed ${join(dir, 'fleet.resolved.json')} (ciCommit ${prevCommit}, signedAt ${signedAt}, was ${prevSignedAt}; content unchanged)\n`
  )
  for (const { file } of signed.slice(1)) process.stdout.write(`  ${join(dir, file.path)}\n`)
  return EXIT_OK
}
