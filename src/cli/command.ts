/**
 * What a subcommand is, and how argv picks one. Kept apart from the registry so an entry point
 * can look up a command without loading every command module.
 */
import type { CommandSpec, ParsedArgs } from './args.ts'

/** A runnable subcommand. */
export type Command = {
  readonly spec: CommandSpec
  readonly run: (args: ParsedArgs) => Promise<number>
}

/** Finds the command named by the leading words of `argv`. */
export function findCommand(
  argv: readonly string[],
  among: readonly Command[]
): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined
  for (const command of among) {
    const words = command.spec.name.split(' ')
    if (words.every((w, i) => argv[i] === w)) {
      if (!best || words.length > best.command.spec.name.split(' ').length) {
        best = { command, rest: argv.slice(words.length) }
      }
    }
  }
  return best
}
