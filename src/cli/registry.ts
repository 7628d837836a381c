/**
 * The table of subcommands. Each entry pairs a declaration (options, help) with its runner;
 * multi-word commands (`trust init`, `verify artifact`) are matched longest-first.
 */
import type { Command } from './command.ts'
import { agent, agentSpec } from './commands/agent.ts'
import { caInit, caInitSpec } from './commands/ca.ts'
import { canonicalize, canonicalizeSpec } from './commands/canonicalize.ts'
import { controlPlane, cpSpec } from './commands/control-plane.ts'
import { cpBackup, cpBackupSpec } from './commands/cp-backup.ts'
import { cpMigrateCommand } from './commands/cp-migrate.ts'
import { demo, demoSpec } from './commands/demo.ts'
import { fleetActionCommands } from './commands/fleet-actions.ts'
import { fleetCheck, fleetCheckSpec } from './commands/fleet-check.ts'
import { hostCommands } from './commands/hosts.ts'
import { keygen, keygenSpec } from './commands/keygen.ts'
import { mintOperatorCert, mintOperatorCertSpec } from './commands/mint-operator-cert.ts'
import { mintToken, mintTokenSpec } from './commands/mint-token.ts'
import { setupCommands } from './commands/operator-setup.ts'
import { release, releaseSpec } from './commands/release.ts'
import { rolloutCommands } from './commands/rollout.ts'
import { status, statusSpec } from './commands/status.ts'
import { trustInit, trustInitSpec } from './commands/trust.ts'
import { ui, uiSpec } from './commands/ui.ts'
import { verifyCommands } from './commands/verify.ts'

export type { Command } from './command.ts'

/** Every subcommand, in the order `nixfleet --help` lists them. */
export const commands: readonly Command[] = [
  { spec: demoSpec, run: demo },
  { spec: statusSpec, run: status },
  ...hostCommands,
  ...rolloutCommands,
  ...fleetActionCommands,
  { spec: uiSpec, run: ui },
  { spec: releaseSpec, run: release },
  { spec: fleetCheckSpec, run: fleetCheck },
  ...verifyCommands,
  { spec: keygenSpec, run: keygen },
  { spec: trustInitSpec, run: trustInit },
  { spec: canonicalizeSpec, run: canonicalize },
  { spec: cpSpec, run: controlPlane },
  { spec: cpBackupSpec, run: cpBackup },
  cpMigrateCommand,
  { spec: caInitSpec, run: caInit },
  { spec: mintTokenSpec, run: mintToken },
  { spec: mintOperatorCertSpec, run: mintOperatorCert },
  { spec: agentSpec, run: agent },
  ...setupCommands,
]
