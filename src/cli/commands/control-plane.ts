/**
 * `nixfleet control-plane`: runs the CP until SIGTERM/SIGINT, then stops in order (listener,
 * long-polls, workers, reducer drain, database) and exits 0. `--check-config` validates the
 * flags and every file they name, then exits. A fatal reducer error (database write failure)
 * exits 1 so the service manager restarts the CP, which rebuilds its memory from the database.
 */
import pkg from '../../../package.json' with { type: 'json' }
import { controlPlaneSpec, loadCpConfig } from '../../cp/config.ts'
import { createControlPlane } from '../../cp/main.ts'
import type { CommandSpec, ParsedArgs } from '../args.ts'
import { flag } from '../args.ts'
import { EXIT_OK } from '../errors.ts'

/** The declaration of `nixfleet control-plane`. */
export const cpSpec: CommandSpec = controlPlaneSpec

/** Runs `nixfleet control-plane`. */
export async function controlPlane(args: ParsedArgs): Promise<number> {
  const config = await loadCpConfig(args)
  if (flag(args, 'check-config')) {
    process.stdout.write('control-plane: configuration ok\n')
    return EXIT_OK
  }
  const cp = await createControlPlane(config, { version: pkg.version, lightweightResponses: true })
  await cp.listen()
  const signal = await new Promise<string>((resolve) => {
    const on = (name: string) => () => resolve(name)
    process.once('SIGTERM', on('SIGTERM'))
    process.once('SIGINT', on('SIGINT'))
    cp.fatal.then(() => resolve('fatal'))
  })
  await cp.stop()
  return signal === 'fatal' ? 1 : EXIT_OK
}
