/**
 * The `nixfleet` executable: one entry point for every mode. It reads argv, picks the
 * subcommand, and turns failures into one line on stderr plus the documented exit code
 * (0 ok, 1 verification failed, 2 usage or I/O error); the daemons' line is a JSON log line
 * like their others. No stack traces reach operators.
 */
import pkg from '../package.json' with { type: 'json' }
import { helpText, parseCommandArgs } from './cli/args.ts'
import { CliError, EXIT_OK, EXIT_USAGE } from './cli/errors.ts'
import { type Command, findCommand } from './cli/command.ts'
import { suggest } from './lib/suggest.ts'

/** The version printed by `nixfleet --version`. */
export const VERSION: string = pkg.version

/**
 * The agent daemon runs with JavaScriptCore's JIT off: it is idle nearly always, its heavy work
 * is native (TLS, JSON, Ed25519, SHA-2), and the JIT's tiers, stubs and compiler pages would be
 * the largest part of its resident memory after the runtime itself (measured: 1.5 MB of a 40 MB
 * budget; idle CPU stays at 0.1–0.3 % of a core; verifying a 10,000-host fleet takes 335 ms
 * instead of 50). JSC reads the switch only at start, so the process re-executes itself once with
 * it set, keeping its pid (systemd sees one process). An operator who sets `BUN_JSC_useJIT`
 * explicitly (e.g. to 1) keeps that choice.
 */
function reexecAgentWithoutJit(argv: readonly string[]): void {
  if (argv[0] !== 'agent' || process.env['BUN_JSC_useJIT'] !== undefined) return
  if (typeof process.execve !== 'function') return
  // Compiled, argv is [bun, /$bunfs/root/<name>, …args]; from source, [bun, script, …args].
  const compiled = Bun.main.startsWith('/$bunfs/')
  const args = compiled ? argv : process.argv.slice(1)
  process.execve(process.execPath, [process.execPath, ...args], {
    ...process.env,
    BUN_JSC_useJIT: '0',
  })
}

/**
 * The commands to consider for `argv`. The agent daemon runs on every host, so it loads only its
 * own module (measured: about 11 MB less resident memory than loading every command).
 */
async function loadCommands(argv: readonly string[]): Promise<readonly Command[]> {
  if (argv[0] === 'agent') {
    const { agent, agentSpec } = await import('./cli/commands/agent.ts')
    return [{ spec: agentSpec, run: agent }]
  }
  return (await import('./cli/registry.ts')).commands
}

function globalHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.spec.name.length)) + 2
  return [
    `nixfleet ${VERSION} — signed, staged NixOS fleet rollouts`,
    '',
    'usage: nixfleet <command> [options]    (nixfleet <command> --help for details)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(width)} ${c.spec.summary}`),
    '',
    'exit codes: 0 success, 1 verification failed (operator commands: what was asked about failed,\nhalted or was refused), 2 usage, connection or I/O error',
  ].join('\n')
}

async function run(argv: string[]): Promise<number> {
  const commands = await loadCommands(argv)
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(`${globalHelp(commands)}\n`)
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK
  }
  if (argv[0] === '--version' || argv[0] === 'version') {
    process.stdout.write(`nixfleet ${VERSION}\n`)
    return EXIT_OK
  }
  const found = findCommand(argv, commands)
  if (!found) {
    const group = commands.filter((c) => c.spec.name.startsWith(`${argv[0]} `))
    if (group.length > 0) {
      const width = Math.max(...group.map((c) => c.spec.name.length)) + 2
      const list = group.map((c) => `  ${c.spec.name.padEnd(width)} ${c.spec.summary}`).join('\n')
      if (argv[1] === '--help' || argv[1] === '-h') {
        process.stdout.write(
          `usage: nixfleet ${argv[0]} <subcommand> [options]\n\nsubcommands:\n${list}\n`
        )
        return EXIT_OK
      }
      const given = argv[1]
      if (given !== undefined && !given.startsWith('-')) {
        const subs = group.map((c) => c.spec.name.split(' ')[1]!)
        const near = suggest(given, subs)
        throw new CliError(
          `unknown subcommand '${given.slice(0, 40)}' for 'nixfleet ${argv[0]}' (${near ? `did you mean ${near}?` : `expected one of ${subs.join(', ')}`})`
        )
      }
      throw new CliError(
        `${argv[0]}: expected a subcommand: ${group.map((c) => c.spec.name).join(', ')}`
      )
    }
    const near = suggest(String(argv[0]), [
      ...new Set(commands.map((c) => c.spec.name.split(' ')[0]!)),
    ])
    throw new CliError(
      `unknown command '${String(argv[0]).slice(0, 40)}' (${near ? `did you mean ${near}? ` : ''}see nixfleet --help)`
    )
  }
  const args = parseCommandArgs(found.command.spec, found.rest)
  if (args.help) {
    process.stdout.write(`${helpText(found.command.spec)}\n`)
    return EXIT_OK
  }
  return found.command.run(args)
}

/**
 * Whether `argv` runs a daemon (not `--check-config` or `--help`, which a person reads): its
 * failure is then one JSON log line at priority 3, as its other lines, so journald records it
 * as an error.
 */
function runsDaemon(argv: readonly string[]): boolean {
  if (argv[0] !== 'agent' && argv[0] !== 'control-plane') return false
  return !argv.some((a) => a === '--check-config' || a === '--help' || a === '-h')
}

/** Reports the failure that ends the process: one line, plain or (daemons) a JSON log line. */
async function reportFailure(argv: readonly string[], message: string, exitCode: number) {
  if (runsDaemon(argv)) {
    const { createLogger } = await import('./runtime/log.ts')
    const component = argv[0] === 'agent' ? 'agent' : 'cp'
    createLogger({ component }).error('fatal error', { error: message, exitCode })
  } else process.stderr.write(`nixfleet: ${message}\n`)
}

const argv = process.argv.slice(2)
try {
  reexecAgentWithoutJit(argv)
  process.exitCode = await run(argv)
} catch (e) {
  if (e instanceof CliError) {
    process.exitCode = e.exitCode
    await reportFailure(argv, e.message, e.exitCode)
  } else {
    const msg = e instanceof Error ? e.message : String(e)
    process.exitCode = EXIT_USAGE
    await reportFailure(argv, `internal error: ${msg.split('\n')[0]}`, EXIT_USAGE)
  }
}
