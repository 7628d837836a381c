/**
 * `nixfleet ui`: the fleet dashboard on this workstation. Serves the page on loopback and
 * talks to the control plane with the operator's certificate (see `src/ui/local.ts`); prints
 * the URL and runs until interrupted.
 */
import { parseListen } from '../../agent/config.ts'
import { type CpConnection, startLocalUi } from '../../ui/local.ts'
import { type CommandSpec, type ParsedArgs, str } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { readText } from '../io.ts'
import { CONNECTION_OPTIONS, resolveConnection } from '../operator-config.ts'

/** The declaration of `nixfleet ui`. */
export const uiSpec: CommandSpec = {
  name: 'ui',
  summary: 'open the live fleet dashboard on this machine (talks to the CP as the operator)',
  usage: 'nixfleet ui [--listen 127.0.0.1:8088] [connection flags]',
  details:
    'Serves the dashboard at http://HOST:PORT/ui/ and passes its API calls to the control plane\n' +
    'over mutual TLS with the operator certificate. Binds to loopback unless told otherwise:\n' +
    'anyone who can reach the listener acts with that certificate. The connection comes from\n' +
    'flags, NIXFLEET_* variables or the file `nixfleet config init` writes, as for `nixfleet status`.',
  options: {
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      description: 'where to serve the dashboard',
      default: '127.0.0.1:8088',
    },
    ...CONNECTION_OPTIONS,
  },
}

/**
 * The operator commands' connection settings (flags > NIXFLEET_* environment > the config file
 * of `nixfleet config init`), read into memory.
 */
export async function connectionSettings(args: ParsedArgs): Promise<CpConnection> {
  const c = resolveConnection(args)
  if (!/^https:\/\//.test(c.url)) throw new CliError('ui: the control plane URL must be https://')
  return {
    url: c.url,
    caPem: await readText(c.caCert, 'CA certificate'),
    certPem: await readText(c.clientCert, 'client certificate'),
    keyPem: await readText(c.clientKey, 'client key'),
  }
}

/** Runs `nixfleet ui` until SIGINT or SIGTERM. */
export async function ui(args: ParsedArgs): Promise<number> {
  const listen = str(args, 'listen') ?? '127.0.0.1:8088'
  const at = parseListen(listen)
  if (at === undefined) throw new CliError(`ui: --listen must be HOST:PORT, got ${listen}`)
  const cp = await connectionSettings(args)
  let server
  try {
    server = startLocalUi(cp, at.hostname, at.port)
  } catch (e) {
    throw new CliError(`ui: cannot listen on ${listen}: ${String(e)}`)
  }
  process.stdout.write(`dashboard: ${server.url}\n`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await server.stop()
  return EXIT_OK
}
