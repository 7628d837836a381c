/**
 * `nixfleet canonicalize`: RFC 8785 canonical JSON from stdin to stdout, as the reference's
 * `nixfleet-canonicalize`. Exit 0 ok, 1 invalid JSON, 2 I/O error.
 */
import { JsonSyntaxError, canonicalize as jcs } from '../../crypto/canonical-json.ts'
import type { CommandSpec, ParsedArgs } from '../args.ts'
import { CliError, EXIT_OK, EXIT_VERIFY_FAILED } from '../errors.ts'
import { readInput } from '../io.ts'

/** The declaration of `nixfleet canonicalize`. */
export const canonicalizeSpec: CommandSpec = {
  name: 'canonicalize',
  summary: 'RFC 8785 canonical JSON: stdin to stdout',
  usage: 'nixfleet canonicalize < in.json > out.json',
  details:
    'Exit codes: 0 ok, 1 invalid JSON (duplicate keys and lone surrogates too), 2 I/O error.',
  options: {},
}

/** Runs `nixfleet canonicalize`. */
export async function canonicalize(_args: ParsedArgs): Promise<number> {
  const input = await readInput('-', 'stdin')
  let out: Uint8Array
  try {
    out = jcs(input)
  } catch (e) {
    if (e instanceof JsonSyntaxError)
      throw new CliError(`canonicalize: stdin: ${e.message}`, EXIT_VERIFY_FAILED)
    throw e
  }
  await Bun.write(Bun.stdout, out)
  return EXIT_OK
}
