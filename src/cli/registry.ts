/**
 * The table of subcommands. Each entry pairs a declaration (options, help) with its runner;
 * multi-word commands (`trust init`, `verify artifact`) are matched longest-first.
 */
import type { CommandSpec, ParsedArgs } from './args.ts'
import { agent, agentSpec } from './commands/agent.ts'
import { caInit, caInitSpec } from './commands/ca.ts'
import { canonicalize, canonicalizeSpec } from './commands/canonicalize.ts'
import { controlPlane, cpSpec } from './commands/control-plane.ts'
import { demo, demoSpec } from './commands/demo.ts'
import { keygen, keygenSpec } from './commands/keygen.ts'
import { mintOperatorCert, mintOperatorCertSpec } from './commands/mint-operator-cert.ts'
import { mintToken, mintTokenSpec } from './commands/mint-token.ts'
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
  { spec: demoSpec, run: demo },
  { spec: releaseSpec, run: release },
  ...verifyCommands,
  { spec: keygenSpec, run: keygen },
  { spec: trustInitSpec, run: trustInit },
  { spec: canonicalizeSpec, run: canonicalize },
  { spec: cpSpec, run: controlPlane },
  { spec: caInitSpec, run: caInit },
  { spec: mintTokenSpec, run: mintToken },
  { spec: mintOperatorCertSpec, run: mintOperatorCert },
  { spec: agentSpec, run: agent },
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
