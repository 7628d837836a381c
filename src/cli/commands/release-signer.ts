/**
 * The release signer: a local key file (ed25519 or P-256) or an external `--sign-cmd` hook
 * (HSM, TPM, KMS) that reads NIXFLEET_INPUT and writes a raw 64-byte signature to
 * NIXFLEET_OUTPUT. Invariant: a hook's output is only trusted after verification against a
 * trust file, so a hook without `--trust-file` is refused.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ed25519PublicKey } from '../../crypto/ed25519.ts'
import { type SigningKey, parseSigningKey } from '../../crypto/keys.ts'
import { p256PublicKeyFromPkcs8 } from '../../crypto/p256.ts'
import { signBytes } from '../../crypto/sign.ts'
import { toBase64 } from '../../lib/bytes.ts'
import { type ParsedArgs, str } from '../args.ts'
import { CliError } from '../errors.ts'
import { readInput } from '../io.ts'

/** How release artifacts are signed: a local key, or the external `--sign-cmd` hook. */
export type Signer = {
  algorithm: string
  sign: (bytes: Uint8Array) => Promise<Uint8Array>
  publicKey?: string
}

/** The signer named by `--key` / `--sign-cmd` / `--signature-algorithm`. */
export async function makeSigner(args: ParsedArgs): Promise<Signer> {
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
