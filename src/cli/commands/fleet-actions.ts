/**
 * `nixfleet quarantine list|clear` (closures refused on a channel after a failure),
 * `nixfleet denials` (hosts and operators denied in an emergency) and `nixfleet audit` (the
 * operators' recorded actions).
 */
import type { Command } from '../command.ts'
import { type CommandSpec, type ParsedArgs, intOpt, str } from '../args.ts'
import { EXIT_OK } from '../errors.ts'
import type { AuditAction } from '../operator-api.ts'
import {
  clientOf,
  confirmAction,
  operatorSpec,
  output,
  short,
  tableOr,
  when,
} from '../operator-common.ts'

const listSpec: CommandSpec = operatorSpec({
  name: 'quarantine list',
  summary: 'closures quarantined on a channel after a failed rollout',
  usage: 'nixfleet quarantine list [--json]',
  options: {},
})

async function quarantineList(args: ParsedArgs): Promise<number> {
  const body = await clientOf(args).quarantines()
  output(args, body, () =>
    tableOr(
      'no closure is quarantined',
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

const denialsSpec: CommandSpec = operatorSpec({
  name: 'denials',
  summary: 'hosts and operator certificates denied (host deny), with who, when and why',
  usage: 'nixfleet denials [--json]',
  options: {},
})

async function denials(args: ParsedArgs): Promise<number> {
  const body = await clientOf(args).denials()
  output(args, body, () =>
    tableOr(
      'no host or operator is denied',
      ['KIND', 'NAME', 'SINCE', 'BY', 'REASON'],
      body.denials.map((d) => [d.kind, d.name, when(d.at), d.by ?? '', d.reason ?? ''])
    )
  )
  return EXIT_OK
}

const auditSpec: CommandSpec = operatorSpec({
  name: 'audit',
  summary: 'operator actions: who did what, to what, when and why',
  usage: 'nixfleet audit [--limit N] [--json]',
  options: {
    limit: { type: 'string', value: 'N', description: 'the newest N actions', default: '100' },
  },
})

async function audit(args: ParsedArgs): Promise<number> {
  const client = clientOf(args)
  const limit = intOpt(args, 'audit', 'limit')!
  // The trail is paged oldest first; operators act rarely, so it is read to its end.
  const all: AuditAction[] = []
  for (let after: number | undefined; ;) {
    const page = await client.audit({ limit: 500, after })
    all.push(...page.actions)
    if (page.next === null || page.next === undefined) break
    after = page.next
  }
  const actions = all.slice(-limit)
  output(args, { actions }, () =>
    tableOr(
      'no operator action recorded yet',
      ['AT', 'OPERATOR', 'ACTION', 'TARGET', 'REASON'],
      actions.map((a) => [when(a.at), a.operator ?? '', a.action, a.target ?? '', a.reason ?? ''])
    )
  )
  return EXIT_OK
}

/** The quarantine and audit commands. */
export const fleetActionCommands: readonly Command[] = [
  { spec: listSpec, run: quarantineList },
  { spec: clearSpec, run: quarantineClear },
  { spec: denialsSpec, run: denials },
  { spec: auditSpec, run: audit },
]
