/**
 * `nixfleet hosts`, `nixfleet host show H` and the host actions `host retry|skip|deny|allow H`
 * (each with `--reason`, recorded with the operator's name by the control plane).
 */
import { table } from '../../lab/view.ts'
import type { Command } from '../command.ts'
import { type CommandSpec, type ParsedArgs, flag, str } from '../args.ts'
import { suggest } from '../../lib/suggest.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { ApiError } from '../operator-client.ts'
import {
  checkName,
  clientOf,
  confirmAction,
  eventDetail,
  eventKind,
  operatorSpec,
  output,
  resolveRolloutId,
  short,
  tableOr,
  tableWithDetail,
  when,
} from '../operator-common.ts'
import type { HostRow } from '../operator-api.ts'

const hostsSpec: CommandSpec = operatorSpec({
  name: 'hosts',
  summary: 'every host: channel, closures, rollout state, last seen, problem',
  usage: 'nixfleet hosts [--channel C] [--problem] [--json]',
  options: {
    channel: { type: 'string', value: 'C', description: 'only hosts of this channel' },
    problem: { type: 'boolean', description: 'only hosts with a problem' },
  },
})

const stateOf = (h: HostRow): string => h.rolloutState ?? (h.converged ? 'Converged' : 'idle')

async function hosts(args: ParsedArgs): Promise<number> {
  const client = clientOf(args)
  const channel = str(args, 'channel')
  const body = await client.hosts({ channel, problem: flag(args, 'problem') })
  // No rows for a channel filter: a misspelt channel is an error, not an empty fleet.
  if (body.hosts.length === 0) await checkName(client, 'hosts', 'channel', channel)
  const none = flag(args, 'problem') ? 'no host has a problem' : 'no hosts'
  output(args, body, () =>
    tableOr(
      none,
      ['HOST', 'CHANNEL', 'STATE', 'CURRENT', 'TARGET', 'LAST SEEN', 'PROBLEM'],
      body.hosts.map((h) => [
        h.hostname,
        h.channel,
        stateOf(h),
        short(h.currentClosure),
        short(h.targetClosure),
        when(h.lastSeenAt),
        h.problem ? `${h.problem.kind}: ${h.problem.message}` : '',
      ])
    )
  )
  return EXIT_OK
}

const showSpec: CommandSpec = operatorSpec({
  name: 'host show',
  summary: 'one host: closures and their history, probes, certificate, last seen, events',
  usage: 'nixfleet host show HOST [--json]',
  positionals: { min: 1, max: 1, names: 'HOST' },
  options: {},
})

async function hostShow(args: ParsedArgs): Promise<number> {
  const client = clientOf(args)
  const name = args.positionals[0]!
  const h = await client.host(name).catch(async (e: unknown) => {
    if (!(e instanceof ApiError) || e.status !== 404) throw e
    const known = (await client.hosts()).hosts.map((x) => x.hostname)
    const near = suggest(name, known)
    throw new CliError(`unknown host ${name}${near ? ` (did you mean ${near}?)` : ''}`)
  })
  output(args, h, () => {
    const lines = [
      `${h.hostname}  channel ${h.channel}  ${stateOf(h)}`,
      `  current   ${h.currentClosure ?? '-'}`,
      `  target    ${h.targetClosure ?? '-'}`,
      `  declared  ${h.declaredClosure ?? '-'}`,
      `  last seen ${when(h.lastSeenAt) || 'never'}`,
    ]
    if (h.lastRollout)
      lines.push(`  rollout   ${h.lastRollout.id} ${h.lastRollout.outcome ?? ''}`.trimEnd())
    if (h.enrolment)
      lines.push(
        `  enrolment ${h.enrolment.state} ${when(h.enrolment.at)} ${h.enrolment.reason ?? ''}`.trimEnd()
      )
    if (h.certificate)
      lines.push(
        `  cert      serial ${h.certificate.serial ?? '?'} until ${when(h.certificate.notAfter)}${h.certificate.revoked ? ' REVOKED' : ''}${h.certificate.denied ? ' DENIED' : ''}`
      )
    if (h.denied)
      lines.push(
        `  denied    by ${h.denied.by ?? '?'} at ${when(h.denied.at)}: ${h.denied.reason ?? ''}`
      )
    if (h.problem) lines.push(`  problem   ${h.problem.kind}: ${h.problem.message}`)
    if (h.gate) lines.push(`  held by   ${h.gate.gate}: ${h.gate.reason}`)
    if (h.quarantinedClosure) lines.push(`  quarantined ${h.quarantinedClosure}`)
    if (h.closureHistory.length > 0) {
      lines.push('', 'closure history:')
      lines.push(
        ...table(
          ['AT', 'CLOSURE', 'ROLLOUT'],
          h.closureHistory.map((c) => [when(c.at), c.closure, c.rolloutId ?? ''])
        ).map((l) => `  ${l}`)
      )
    }
    // Always a section: "no results" is an answer too (a host that never ran a probe).
    lines.push('', 'probes:')
    if (h.probes.length === 0) lines.push('  no probe results reported')
    else
      lines.push(
        ...tableWithDetail(
          ['PROBE', 'OK', 'AT', 'MESSAGE'],
          h.probes.map((p) => [p.name, p.ok ? 'yes' : 'NO', when(p.at), p.message ?? ''])
        ).map((l) => `  ${l}`)
      )
    if (h.events.length > 0) {
      lines.push('', 'events (newest first):')
      lines.push(
        ...tableWithDetail(
          ['SEQ', 'AT', 'ROLLOUT', 'KIND', 'DETAIL'],
          h.events.map((e) => [
            String(e.seq),
            when(e.at),
            e.rolloutId ?? '',
            eventKind(e),
            eventDetail(e),
          ])
        ).map((l) => `  ${l}`)
      )
    }
    return lines
  })
  return EXIT_OK
}

type HostAction = 'retry' | 'skip' | 'deny' | 'allow'

const ACTION_SUMMARY: Record<HostAction, string> = {
  retry: "dispatch the host again in its channel's current rollout",
  skip: "leave the host out of its channel's current rollout",
  deny: 'deny the host: its certificate is refused until allowed again',
  allow: 'lift a denial of the host',
}

function hostAction(kind: HostAction): Command {
  const rolloutOpt =
    kind === 'retry' || kind === 'skip'
      ? {
          rollout: {
            type: 'string' as const,
            value: 'ID',
            description: "the rollout (default: the channel's current one; stable@3eac works)",
          },
        }
      : {}
  const spec = operatorSpec(
    {
      name: `host ${kind}`,
      summary: ACTION_SUMMARY[kind],
      usage: `nixfleet host ${kind} HOST --reason TEXT [--yes] [--json]`,
      positionals: { min: 1, max: 1, names: 'HOST' },
      options: rolloutOpt,
    },
    true
  )
  return {
    spec,
    run: async (args) => {
      const host = args.positionals[0]!
      const client = clientOf(args)
      const given = str(args, 'rollout')
      const rolloutId = given === undefined ? undefined : await resolveRolloutId(client, given)
      const reason = await confirmAction(args, spec.name, `${kind} ${host}`)
      const answer = await client.post(`/v1/operator/hosts/${encodeURIComponent(host)}/${kind}`, {
        reason,
        ...(rolloutId !== undefined ? { rolloutId } : {}),
      })
      output(args, answer, () => [`${kind} ${host}: done`])
      return EXIT_OK
    },
  }
}

/** The host commands. */
export const hostCommands: readonly Command[] = [
  { spec: hostsSpec, run: hosts },
  { spec: showSpec, run: hostShow },
  ...(['retry', 'skip', 'deny', 'allow'] as const).map(hostAction),
]
