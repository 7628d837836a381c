/**
 * `nixfleet quarantine list|clear` (closures refused on a channel after a failure) and
 * `nixfleet audit` (the operators' recorded actions).
 */
import { table } from '../../lab/view.ts'
import type { Command } from '../command.ts'
import { type CommandSpec, type ParsedArgs, intOpt, str } from '../args.ts'
import { EXIT_OK } from '../errors.ts'
import { clientOf, confirmAction, operatorSpec, output, short, when } from '../operator-common.ts'

const listSpec: CommandSpec = operatorSpec({
  name: 'quarantine list',
  summary: 'closures quarantined on a channel after a failed rollout',
  usage: 'nixfleet quarantine list [--json]',
  options: {},
})

async function quarantineList(args: ParsedArgs): Promise<number> {
  const body = await clientOf(args).quarantines()
  output(args, body, () =>
    table(
      ['CHANNEL', 'CLOSURE', 'SINCE', 'HOST', 'ROLLOUT', 'REASON'],
      body.quarantines.map((q) => [
        q.channel,
        q.closure,
        when(q.at),
        q.host ?? '',
        q.rolloutId ?? '',
        q.reason ?? '',
      ])
    )
  )
  return EXIT_OK
}

const clearSpec: CommandSpec = operatorSpec(
  {
    name: 'quarantine clear',
    summary: 'let a quarantined closure be dispatched again on its channel',
    usage: 'nixfleet quarantine clear --channel C --closure CLOSURE --reason TEXT [--yes] [--json]',
    options: {
      channel: { type: 'string', value: 'C', description: 'the channel', required: true },
      closure: {
        type: 'string',
        value: 'CLOSURE',
        description: 'the quarantined closure (as quarantine list shows it)',
        required: true,
      },
    },
  },
  true
)

async function quarantineClear(args: ParsedArgs): Promise<number> {
  const channel = str(args, 'channel')!
  const closure = str(args, 'closure')!
  const client = clientOf(args)
  const reason = await confirmAction(
    args,
    'quarantine clear',
    `clear the quarantine of ${short(closure)}… on ${channel}`
  )
  const answer = await client.post('/v1/operator/quarantines/clear', { channel, closure, reason })
  output(args, answer, () => [`cleared ${closure} on ${channel}`])
  return EXIT_OK
}

const auditSpec: CommandSpec = operatorSpec({
  name: 'audit',
  summary: 'operator actions: who did what, to what, when and why',
  usage: 'nixfleet audit [--limit N] [--json]',
  options: {
    limit: { type: 'string', value: 'N', description: 'at most N actions', default: '100' },
  },
})

async function audit(args: ParsedArgs): Promise<number> {
  const body = await clientOf(args).audit({ limit: intOpt(args, 'audit', 'limit')! })
  output(args, body, () =>
    table(
      ['AT', 'OPERATOR', 'ACTION', 'TARGET', 'REASON'],
      body.actions.map((a) => [
        when(a.at),
        a.operator ?? '',
        a.action,
        a.target ?? '',
        a.reason ?? '',
      ])
    )
  )
  return EXIT_OK
}

/** The quarantine and audit commands. */
export const fleetActionCommands: readonly Command[] = [
  { spec: listSpec, run: quarantineList },
  { spec: clearSpec, run: quarantineClear },
  { spec: auditSpec, run: audit },
]
