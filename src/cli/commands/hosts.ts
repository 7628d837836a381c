/**
 * `nixfleet hosts`, `nixfleet host show H` and the host actions `host retry|skip|deny|allow H`
 * (each with `--reason`, recorded with the operator's name by the control plane).
 */
import { table } from '../../lab/view.ts'
import type { Command } from '../command.ts'
import { type CommandSpec, type ParsedArgs, flag, str } from '../args.ts'
import { EXIT_OK } from '../errors.ts'
import {
  clientOf,
  confirmAction,
  eventKind,
  operatorSpec,
  output,
  resolveRolloutId,
  short,
  tableOr,
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
  const body = await clientOf(args).hosts({
    channel: str(args, 'channel'),
    problem: flag(args, 'problem'),
  })
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
  const h = await clientOf(args).host(args.positionals[0]!)
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
    if (h.probes.length > 0) {
      lines.push('', 'probes:')
      lines.push(
        ...table(
          ['PROBE', 'OK', 'AT', 'MESSAGE'],
          h.probes.map((p) => [p.name, p.ok ? 'yes' : 'NO', when(p.at), p.message ?? ''])
        ).map((l) => `  ${l}`)
      )
    }
    if (h.events.length > 0) {
      lines.push('', 'events (newest first):')
      lines.push(
        ...table(
          ['SEQ', 'AT', 'ROLLOUT', 'KIND'],
          h.events.map((e) => [String(e.seq), when(e.at), e.rolloutId ?? '', eventKind(e)])
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
