/**
 * `nixfleet release`: the CI side. Takes fleet.resolved (a file, stdin, or `nix eval` of a
 * flake) plus closures, stamps `meta`, canonicalizes, signs each artifact (local key or the
 * reference's `--sign-cmd` hook), verifies every result, and only then writes the release
 * directory atomically:
 *   fleet.resolved.json{,.sig}, rollouts/<rolloutId>.json{,.sig} per channel with a closure,
 *   revocations.json{,.sig} and bootstrap-nonces.json{,.sig} when given.
 * Invariant: nothing is written unless every artifact was signed and verified.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { bytesEqual, fromBase64, toBase64 } from '../../lib/bytes.ts'
import { ed25519PublicKey, ed25519Verify } from '../../crypto/ed25519.ts'
import { type SigningKey, parseSigningKey } from '../../crypto/keys.ts'
import { p256PublicKeyFromPkcs8, p256Verify } from '../../crypto/p256.ts'
import { signBytes } from '../../crypto/sign.ts'
import { verifyArtifact } from '../../crypto/verify-artifact.ts'
import type { JsonValue } from '../../crypto/canonical-json.ts'
import { BootstrapNoncesSchema } from '../../proto/bootstrap.ts'
import { parseRfc3339Ms, toRfc3339 } from '../../proto/common.ts'
import { FleetResolvedSchema } from '../../proto/fleet.ts'
import { CiCommitSchema, ClosureHashSchema } from '../../proto/ids.ts'
import { RolloutManifestSchema } from '../../proto/manifest.ts'
import { RevocationsSchema } from '../../proto/revocations.ts'
import type { KeySlot } from '../../proto/trust.ts'
import { ReleaseInputError, assembleRelease } from '../../release/assemble.ts'
import type { ReleaseFile } from '../../release/assemble.ts'
import { type CommandSpec, type ParsedArgs, flag, str, timeOpt } from '../args.ts'
import { CliError, EXIT_OK, EXIT_VERIFY_FAILED } from '../errors.ts'
import { readInput, writeAtomic } from '../io.ts'
import { loadTrustFile, parseJsonBytes } from '../load.ts'
import * as v from 'valibot'

/** The declaration of `nixfleet release`. */
export const releaseSpec: CommandSpec = {
  name: 'release',
  summary: 'sign fleet.resolved and one rollout manifest per channel into a release directory',
  usage:
    'nixfleet release (--fleet FILE | --flake REF) [--closures FILE] (--key FILE | --sign-cmd CMD)\n' +
    '                 [--ci-commit SHA] [--release-dir DIR] [--revocations FILE] [--bootstrap-nonces FILE]',
  details:
    'Keys: PKCS#8 PEM (ed25519 or P-256), 32 raw bytes, or 64 hex characters. --sign-cmd runs under\n' +
    'sh -c with NIXFLEET_INPUT (the canonical bytes) and NIXFLEET_OUTPUT (write the raw 64-byte\n' +
    'signature there). --closures maps hostname to a store path or its basename. Every artifact is\n' +
    'verified before anything is written; with --trust-file also against that trust.json.',
  options: {
    fleet: {
      type: 'string',
      value: 'FILE',
      description: 'fleet.resolved.json to release ("-" for stdin)',
    },
    flake: {
      type: 'string',
      value: 'REF',
      description: 'evaluate REF#fleet.resolved and build every host',
    },
    'fleet-resolved-attr': {
      type: 'string',
      value: 'ATTR',
      description: 'attribute evaluated with --flake',
      default: 'fleet.resolved',
    },
    'pin-source-url': {
      type: 'string',
      value: 'URL',
      description: 'flake URL for pinned hosts (built at ?rev=COMMIT)',
    },
    nix: {
      type: 'string',
      value: 'PATH',
      description: 'nix binary for --flake',
      default: 'nix',
      env: 'NIXFLEET_NIX',
    },
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
      description: 'enrollment allow-list to sign ({"bootstrapNonces":[…]})',
    },
    'reuse-unchanged-signature': {
      type: 'boolean',
      description: 'keep signedAt and signatures when nothing changed',
    },
    'trust-file': {
      type: 'string',
      value: 'FILE',
      description: 'also verify the results against this trust.json',
    },
    now: { type: 'string', value: 'RFC3339', description: 'signing time (default: now)' },
  },
}

async function runCapture(cmd: string[], what: string): Promise<string> {
  let proc: ReturnType<typeof Bun.spawn>
  try {
    proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  } catch {
    throw new CliError(`release: cannot run ${cmd[0]} (${what}): not found or not executable`)
  }
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout as ReadableStream).text(),
    new Response(proc.stderr as ReadableStream).text(),
    proc.exited,
  ])
  if (code !== 0) {
    const tail = err.trim().split('\n').slice(-1)[0] ?? ''
    throw new CliError(
      `release: ${what} failed (exit ${code})${tail ? `: ${tail.slice(0, 300)}` : ''}`
    )
  }
  return out
}

function storeBasename(value: string, label: string): string {
  const base = basename(value.trim())
  const r = v.safeParse(ClosureHashSchema, base)
  if (!r.success)
    throw new CliError(
      `release: ${label}: ${base.slice(0, 80)} is not a Nix store path or basename`
    )
  return base
}

async function loadClosures(path: string): Promise<Record<string, string>> {
  const raw = parseJsonBytes(await readInput(path, 'closures'), `closures ${path}`)
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CliError(`closures ${path}: expected a JSON object of hostname → store path`)
  }
  const out: Record<string, string> = {}
  for (const [host, p] of Object.entries(raw)) {
    if (typeof p !== 'string')
      throw new CliError(`closures ${path}: ${host.slice(0, 64)}: expected a string`)
    out[host] = storeBasename(p, `closures ${path}: ${host.slice(0, 64)}`)
  }
  return out
}

async function fromFlake(
  args: ParsedArgs,
  ciCommit: string
): Promise<{ fleet: JsonValue; closures: Record<string, string> }> {
  const nix = str(args, 'nix')!
  const ref = str(args, 'flake')!
  const attr = str(args, 'fleet-resolved-attr')!
  const out = await runCapture([nix, 'eval', '--json', `${ref}#${attr}`], `nix eval ${ref}#${attr}`)
  const fleet = parseJsonBytes(new TextEncoder().encode(out), `nix eval ${ref}#${attr}`)
  const hosts = (fleet as { hosts?: Record<string, { pin?: { commit?: string } }> }).hosts ?? {}
  const closures: Record<string, string> = {}
  for (const host of Object.keys(hosts).sort()) {
    const pin = hosts[host]?.pin?.commit
    let installable = `${ref}#nixosConfigurations.${host}.config.system.build.toplevel`
    if (pin && pin !== ciCommit) {
      const src = str(args, 'pin-source-url')
      if (!src)
        throw new CliError(
          `release: host ${host} is pinned to ${pin.slice(0, 12)}; pass --pin-source-url`
        )
      installable = `${src}?rev=${pin}#nixosConfigurations.${host}.config.system.build.toplevel`
    }
    const path = await runCapture(
      [nix, 'build', '--no-link', '--print-out-paths', installable],
      `nix build ${host}`
    )
    closures[host] = storeBasename(path.trim().split('\n')[0] ?? '', `nix build ${host}`)
  }
  return { fleet, closures }
}

async function resolveCiCommit(args: ParsedArgs): Promise<string> {
  let commit = str(args, 'ci-commit')
  if (commit === undefined) {
    try {
      commit = (await runCapture(['git', 'rev-parse', 'HEAD'], 'git rev-parse HEAD')).trim()
    } catch {
      throw new CliError('release: cannot determine the release commit; pass --ci-commit SHA')
    }
  }
  if (!v.safeParse(CiCommitSchema, commit).success) {
    throw new CliError('release: --ci-commit must be a lowercase hex commit id')
  }
  return commit
}

type Signer = {
  algorithm: string
  sign: (bytes: Uint8Array) => Promise<Uint8Array>
  publicKey?: string
}

async function makeSigner(args: ParsedArgs): Promise<Signer> {
  const keyPath = str(args, 'key')
  const cmd = str(args, 'sign-cmd')
  const requested = str(args, 'signature-algorithm')
  if (requested !== undefined && requested !== 'ed25519' && requested !== 'ecdsa-p256') {
    throw new CliError('release: --signature-algorithm must be ed25519 or ecdsa-p256')
  }
  if ((keyPath === undefined) === (cmd === undefined)) {
    throw new CliError('release: give exactly one of --key FILE or --sign-cmd CMD')
  }
  // A hook's public key is unknown here; without a trust file its output could not be checked.
  if (cmd !== undefined && str(args, 'trust-file') === undefined) {
    throw new CliError(
      'release: --sign-cmd needs --trust-file so its signatures are verified before writing'
    )
  }
  if (keyPath !== undefined) {
    const parsed = parseSigningKey(await readInput(keyPath, 'key'))
    if (!parsed.ok) throw new CliError(`key ${keyPath}: ${parsed.error}`)
    const key: SigningKey = parsed.value
    if (requested !== undefined && requested !== key.algorithm) {
      throw new CliError(`release: key ${keyPath} is ${key.algorithm}, not ${requested}`)
    }
    const pub =
      key.algorithm === 'ed25519'
        ? ed25519PublicKey(key.seed)
        : await p256PublicKeyFromPkcs8(key.pkcs8)
    return { algorithm: key.algorithm, sign: (b) => signBytes(key, b), publicKey: toBase64(pub) }
  }
  return { algorithm: requested ?? 'ed25519', sign: (b) => signWithHook(cmd!, b) }
}

async function signWithHook(cmd: string, bytes: Uint8Array): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'nixfleet-sign-'))
  try {
    const input = join(dir, 'input')
    const output = join(dir, 'output')
    writeFileSync(input, bytes, { mode: 0o600 })
    const proc = Bun.spawn(['sh', '-c', cmd], {
      env: { ...process.env, NIXFLEET_INPUT: input, NIXFLEET_OUTPUT: output },
      stdout: 'ignore',
      stderr: 'pipe',
      stdin: 'ignore',
    })
    const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited])
    if (code !== 0) {
      throw new CliError(
        `release: --sign-cmd exited ${code}${err.trim() ? `: ${err.trim().split('\n').slice(-1)[0]!.slice(0, 300)}` : ''}`
      )
    }
    const sig = existsSync(output) ? new Uint8Array(readFileSync(output)) : new Uint8Array(0)
    if (sig.length !== 64)
      throw new CliError(
        `release: --sign-cmd wrote ${sig.length} bytes to NIXFLEET_OUTPUT, expected a raw 64-byte signature`
      )
    return sig
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function readIfExists(path: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(path))
  } catch {
    return undefined
  }
}

/** Runs `nixfleet release`. */
export async function release(args: ParsedArgs): Promise<number> {
  if ((str(args, 'fleet') === undefined) === (str(args, 'flake') === undefined)) {
    throw new CliError('release: give exactly one of --fleet FILE or --flake REF')
  }
  const now = timeOpt(args, 'release', 'now') ?? Date.now()
  const signer = await makeSigner(args)
  const ciCommit = await resolveCiCommit(args)
  const trust = str(args, 'trust-file') ? await loadTrustFile(str(args, 'trust-file')!) : undefined

  let fleetRaw: JsonValue
  let closures: Record<string, string> = {}
  if (str(args, 'flake') !== undefined) {
    ;({ fleet: fleetRaw, closures } = await fromFlake(args, ciCommit))
  } else {
    const path = str(args, 'fleet')!
    fleetRaw = parseJsonBytes(
      await readInput(path, 'fleet'),
      `fleet ${path === '-' ? 'stdin' : path}`
    )
  }
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
  const fleetPath = str(args, 'fleet')
  const sources: Record<string, string | undefined> = {
    'fleet.resolved':
      fleetPath === undefined
        ? `nix eval ${str(args, 'flake')}#${str(args, 'fleet-resolved-attr')}`
        : `fleet ${fleetPath === '-' ? 'stdin' : fleetPath}`,
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

  let built = assemble(toRfc3339(now, 'seconds'))
  if (flag(args, 'reuse-unchanged-signature')) {
    // Re-stamp with the previous signedAt: if the fleet bytes come out identical, nothing changed.
    const prev = readIfExists(join(dir, 'fleet.resolved.json'))
    const prevSignedAt = prev && previousSignedAt(prev)
    if (prevSignedAt) {
      const again = assemble(prevSignedAt)
      if (bytesEqual(again.files[0]!.canonical, prev)) built = again
    }
  }

  const signed: { file: ReleaseFile; sig: Uint8Array; reused: boolean }[] = []
  const signerKey = signer.publicKey === undefined ? undefined : fromBase64(signer.publicKey)
  // A --sign-cmd hook's key is unknown here, so its old signatures are reused as they are.
  const bySigner = async (sig: Uint8Array, bytes: Uint8Array): Promise<boolean> =>
    signerKey === undefined ||
    (signer.algorithm === 'ed25519'
      ? ed25519Verify(sig, bytes, signerKey)
      : await p256Verify(sig, bytes, signerKey))
  for (const file of built.files) {
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

  await smokeVerify(signed, signer, trust?.ciReleaseKey, now)

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

function previousSignedAt(bytes: Uint8Array): string | undefined {
  try {
    const raw = parseJsonBytes(bytes, 'previous fleet.resolved') as {
      meta?: { signedAt?: unknown }
    }
    const s = raw.meta?.signedAt
    return typeof s === 'string' && !Number.isNaN(parseRfc3339Ms(s)) ? s : undefined
  } catch {
    return undefined
  }
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
