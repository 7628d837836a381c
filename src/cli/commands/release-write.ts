/**
 * Writing a signed release: every artifact is signed (identical bytes keep a signature that is
 * the signing key's), verified against the signing key and the trust file, and only then
 * written, atomically per file, the fleet last. Shared by `nixfleet release` and its `--resign`.
 * Invariant: nothing is written unless every artifact was signed and verified.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as v from 'valibot'
import { ed25519Verify } from '../../crypto/ed25519.ts'
import { p256Verify } from '../../crypto/p256.ts'
import { verifyArtifact } from '../../crypto/verify-artifact.ts'
import { bytesEqual, fromBase64 } from '../../lib/bytes.ts'
import { BootstrapNoncesSchema } from '../../proto/bootstrap.ts'
import { FleetResolvedSchema } from '../../proto/fleet.ts'
import { RolloutManifestSchema } from '../../proto/manifest.ts'
import { RevocationsSchema } from '../../proto/revocations.ts'
import type { KeySlot } from '../../proto/trust.ts'
import type { ReleaseFile } from '../../release/assemble.ts'
import { CliError, EXIT_VERIFY_FAILED } from '../errors.ts'
import { writeAtomic } from '../io.ts'
import type { Signer } from './release-signer.ts'

/** A file of the release directory, or undefined when it cannot be read. */
export function readIfExists(path: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(path))
  } catch {
    return undefined
  }
}

/** Signs, verifies and writes `files` (fleet first) into `dir`; what was signed, in order. */
export async function signAndWrite(
  dir: string,
  files: readonly ReleaseFile[],
  signer: Signer,
  trustSlot: KeySlot | undefined,
  now: number
): Promise<{ file: ReleaseFile; sig: Uint8Array; reused: boolean }[]> {
  const signed: { file: ReleaseFile; sig: Uint8Array; reused: boolean }[] = []
  const signerKey = signer.publicKey === undefined ? undefined : fromBase64(signer.publicKey)
  // A --sign-cmd hook's key is unknown here, so its old signatures are reused as they are.
  const bySigner = async (sig: Uint8Array, bytes: Uint8Array): Promise<boolean> =>
    signerKey === undefined ||
    (signer.algorithm === 'ed25519'
      ? ed25519Verify(sig, bytes, signerKey)
      : await p256Verify(sig, bytes, signerKey))
  for (const file of files) {
    const target = join(dir, file.path)
    const old = readIfExists(target)
    const oldSig = readIfExists(`${target}.sig`)
    // Identical bytes keep their signature (saves HSM round trips; ed25519 would repeat it anyway),
    // unless it is not the signing key's (after a key rotation): then it is signed afresh.
    if (
      old &&
      oldSig &&
      oldSig.length === 64 &&
      bytesEqual(old, file.canonical) &&
      (await bySigner(oldSig, old))
    ) {
      signed.push({ file, sig: oldSig, reused: true })
    } else {
      signed.push({ file, sig: await signer.sign(file.canonical), reused: false })
    }
  }

  await smokeVerify(signed, signer, trustSlot, now)

  try {
    mkdirSync(join(dir, 'rollouts'), { recursive: true })
  } catch (e) {
    // An I/O failure, not an internal error: name the directory like every other file error.
    throw new CliError(
      `cannot create ${join(dir, 'rollouts')}: ${(e as { code?: string }).code ?? String(e)}`
    )
  }
  // The fleet goes last: consumers start from it, so every manifest it implies already exists.
  for (const { file, sig } of [...signed.slice(1), signed[0]!]) {
    writeAtomic(join(dir, `${file.path}.sig`), sig)
    writeAtomic(join(dir, file.path), file.canonical)
  }
  return signed
}

const SCHEMAS: Record<string, v.GenericSchema<unknown, unknown>> = {
  'fleet.resolved.json': FleetResolvedSchema,
  'revocations.json': RevocationsSchema,
  'bootstrap-nonces.json': BootstrapNoncesSchema,
}

/** Verifies every signed artifact before anything touches the release directory. */
async function smokeVerify(
  signed: { file: ReleaseFile; sig: Uint8Array }[],
  signer: Signer,
  trustSlot: KeySlot | undefined,
  now: number
): Promise<void> {
  const slots: { label: string; slot: KeySlot }[] = []
  if (signer.publicKey) {
    slots.push({
      label: 'the signing key',
      slot: {
        current: { algorithm: signer.algorithm, public: signer.publicKey },
        previous: null,
        successor: null,
        retireAt: null,
        rejectBefore: null,
      },
    })
  }
  if (trustSlot) slots.push({ label: 'the trust file', slot: trustSlot })
  for (const { file, sig } of signed) {
    const schema = file.path.startsWith('rollouts/') ? RolloutManifestSchema : SCHEMAS[file.path]!
    for (const { label, slot } of slots) {
      // A window of 10 years: this checks signatures and shape, not the freshness policy.
      const r = await verifyArtifact({
        bytes: file.canonical,
        signature: sig,
        schema,
        slot,
        now,
        freshnessWindowSecs: 315_360_000,
      })
      if (!r.ok) {
        throw new CliError(
          `release: ${file.path} does not verify against ${label}: ${r.error.kind}: ${r.error.message}; nothing written`,
          EXIT_VERIFY_FAILED
        )
      }
    }
  }
}
