/**
 * The table of subcommands. Each entry pairs a declaration (options, help) with its runner;
 * multi-word commands (`trust init`, `verify artifact`) are matched longest-first.
 */
import type { CommandSpec, ParsedArgs } from './args.ts'
import { canonicalize, canonicalizeSpec } from './commands/canonicalize.ts'
import { keygen, keygenSpec } from './commands/keygen.ts'
import { release, releaseSpec } from './commands/release.ts'
import { trustInit, trustInitSpec } from './commands/trust.ts'
import { verifyCommands } from './commands/verify.ts'

/** A runnable subcommand. */
export type Command = {
  readonly spec: CommandSpec
  readonly run: (args: ParsedArgs) => Promise<number>
}

/** Every subcommand, in the order `nixfleet --help` lists them. */
export const commands: readonly Command[] = [
  { spec: releaseSpec, run: release },
  ...verifyCommands,
  { spec: keygenSpec, run: keygen },
  { spec: trustInitSpec, run: trustInit },
  { spec: canonicalizeSpec, run: canonicalize },
]

/** Finds the command named by the leading words of `argv`. */
export function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined
  for (const command of commands) {
    const words = command.spec.name.split(' ')
    if (words.every((w, i) => argv[i] === w)) {
      if (!best || words.length > best.command.spec.name.split(' ').length) {
        best = { command, rest: argv.slice(words.length) }
      }
    }
  }
  return best
}
