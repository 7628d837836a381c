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

/** The declaration of `nixfleet ui`. */
export const uiSpec: CommandSpec = {
  name: 'ui',
  summary: 'open the live fleet dashboard on this machine (talks to the CP as the operator)',
  usage:
    'nixfleet ui [--listen 127.0.0.1:8088] --cp-url URL --ca-cert FILE --client-cert FILE --client-key FILE',
  details:
    'Serves the dashboard at http://HOST:PORT/ui/ and passes its API calls to the control plane\n' +
    'over mutual TLS with the operator certificate. Binds to loopback unless told otherwise:\n' +
    'anyone who can reach the listener acts with that certificate.',
  options: {
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      description: 'where to serve the dashboard',
      default: '127.0.0.1:8088',
    },
    'cp-url': {
      type: 'string',
      value: 'URL',
      description: 'control plane URL',
      env: 'NIXFLEET_CP_URL',
    },
    'ca-cert': {
      type: 'string',
      value: 'FILE',
      description: 'fleet CA certificate (PEM)',
      env: 'NIXFLEET_CA_CERT',
    },
    'client-cert': {
      type: 'string',
      value: 'FILE',
      description: 'operator certificate (PEM)',
      env: 'NIXFLEET_CLIENT_CERT',
    },
    'client-key': {
      type: 'string',
      value: 'FILE',
      description: 'operator private key (PEM)',
      env: 'NIXFLEET_CLIENT_KEY',
    },
  },
}

/** The CLI's connection settings: flags, else NIXFLEET_* environment variables. */
export async function connectionSettings(args: ParsedArgs): Promise<CpConnection> {
  const need = (name: string): string => {
    const v = str(args, name)
    if (v === undefined || v === '') throw new CliError(`ui: --${name} is required`)
    return v
  }
  const url = need('cp-url')
  if (!/^https:\/\//.test(url)) throw new CliError('ui: --cp-url must be an https:// URL')
  return {
    url,
    caPem: await readText(need('ca-cert'), 'CA certificate'),
    certPem: await readText(need('client-cert'), 'client certificate'),
    keyPem: await readText(need('client-key'), 'client key'),
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
