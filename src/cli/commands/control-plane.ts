/**
 * `nixfleet control-plane`: runs the CP until SIGTERM/SIGINT, then stops in order (listener,
 * long-polls, workers, reducer drain, database) and exits 0. `--check-config` validates the
 * flags and every file they name, writing nothing, then exits. A fatal database error (a write
 * failure, or the file deleted under the CP) exits 1 so the service manager restarts the CP,
 * which rebuilds its memory from the database; a start-up failure (address in use, database
 * unopenable) is one line and exit 2 (docs/control-plane.md, "Running it").
 * The flags live in control-plane-flags.ts, their checks in control-plane-config.ts.
 */
import pkg from '../../../package.json' with { type: 'json' }
import { createControlPlane, CpStartError, type ControlPlane } from '../../cp/main.ts'
import type { ParsedArgs } from '../args.ts'
import { flag } from '../args.ts'
import { EXIT_OK } from '../errors.ts'
import { fail, loadCpConfig } from './control-plane-config.ts'
export { cpSpec } from './control-plane-flags.ts'

// A fatal runtime error (the database failed): the service manager restarts the CP.
const EXIT_FATAL = 1

/** Runs `nixfleet control-plane`. */
export async function controlPlane(args: ParsedArgs): Promise<number> {
  const config = await loadCpConfig(args)
  if (flag(args, 'check-config')) {
    process.stdout.write('control-plane: configuration ok\n')
    return EXIT_OK
  }
  let cp: ControlPlane
  try {
    cp = await createControlPlane(config, { version: pkg.version, lightweightResponses: true })
  } catch (e) {
    if (e instanceof CpStartError) fail(e.message)
    throw e
  }
  // The handlers are in place before the listening line: whoever waits for it may stop us then.
  const stopped = new Promise<string>((resolve) => {
    const on = (name: string) => () => resolve(name)
    process.once('SIGTERM', on('SIGTERM'))
    process.once('SIGINT', on('SIGINT'))
    cp.fatal.then(() => resolve('fatal'))
  })
  await cp.listen()
  const signal = await stopped
  await cp.stop()
  // An idle keep-alive socket or a stray timer must not hold the exit the service manager awaits.
  process.exit(signal === 'fatal' ? EXIT_FATAL : EXIT_OK)
}
