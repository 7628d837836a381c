/**
 * `nixfleet demo`: a whole fleet on one machine, needing nothing but this binary. It creates
 * keys, a CA, a trust file and a 12-host fleet in three channels, starts a real control plane
 * and one real agent process per host on loopback (mTLS, SQLite, signed releases), and tells
 * the story live: a good release rolled out canary-first in waves under a disruption budget,
 * then a release whose canary fails its health probe — rolled back, quarantined, the rollout
 * halted — and the fixed release that supersedes it. Exit 0 when the story ran as told.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { Lab, type LabHostPlan } from '../../lab/lab.ts'
import {
  type HostEntry,
  LEGEND,
  type RolloutEntry,
  type ViewLayout,
  renderFleet,
} from '../../lab/view.ts'
import { type LocalUi, startLocalUi } from '../../ui/local.ts'
import { type CommandSpec, type ParsedArgs, flag, intOpt, str } from '../args.ts'
import { CliError, EXIT_OK } from '../errors.ts'
import { systemClock } from '../../runtime/clock.ts'
import { OperatorClient } from '../operator-client.ts'
import { type Connection, formatFlatToml } from '../operator-config.ts'
import { hostEntry, rolloutEntry } from './status.ts'

/** The declaration of `nixfleet demo`. */
export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'run a whole fleet on this machine and watch a rollout (needs nothing else)',
  usage: 'nixfleet demo [--hosts N] [--keep DIR] [--no-color]',
  details:
    'Starts a control plane and one agent per host as real processes on 127.0.0.1, signs releases\n' +
    'with the real release command and rolls them out. Fake NixOS systems stand in for hosts: a\n' +
    'closure is a directory whose switch-to-configuration flips a symlink. Takes under a minute.',
  options: {
    hosts: { type: 'string', value: 'N', description: 'fleet size (6 to 40)', default: '12' },
    keep: {
      type: 'string',
      value: 'DIR',
      description:
        'keep state, logs and a README of commands in DIR, and leave the fleet running until Ctrl-C',
    },
    'no-color': { type: 'boolean', description: 'plain output without colours', env: 'NO_COLOR' },
  },
}

/** The channels and waves of a demo fleet of `n` hosts. */
function demoPlan(n: number): { hosts: LabHostPlan[]; layout: ViewLayout } {
  const edge = Math.max(2, Math.round(n / 6))
  const staging = Math.max(2, Math.round(n / 4))
  const stable = n - edge - staging
  const hosts: LabHostPlan[] = []
  const layout: { channel: string; waves: string[][] }[] = []
  const add = (channel: string, count: number, waveOf: (i: number) => number) => {
    const waves: string[][] = []
    for (let i = 0; i < count; i++) {
      const name = `${channel}-${String(i + 1).padStart(2, '0')}`
      const wave = waveOf(i)
      hosts.push({ name, channel, wave, tags: [channel] })
      ;(waves[wave] ??= []).push(name)
    }
    layout.push({ channel, waves })
  }
  add('edge', edge, (i) => (i === 0 ? 0 : 1))
  add('staging', staging, () => 0)
  const rest = stable - 1
  add('stable', stable, (i) => (i === 0 ? 0 : i <= Math.ceil(rest / 2) ? 1 : 2))
  return { hosts, layout }
}

type Snapshot = { hosts: HostEntry[]; rollouts: RolloutEntry[] }

/** Runs `nixfleet demo`. */
export async function demo(args: ParsedArgs): Promise<number> {
  const n = intOpt(args, 'demo', 'hosts')!
  if (n < 6 || n > 40) throw new CliError('demo: --hosts must be between 6 and 40')
  const color = !flag(args, 'no-color') && process.stdout.isTTY === true
  const live = process.stdout.isTTY === true
  const keep = str(args, 'keep')
  const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'nixfleet-demo-'))
  if (keep) {
    if (existsSync(join(dir, 'trust.json')))
      throw new CliError(`demo: ${dir} already holds a demo; choose an empty directory`)
    mkdirSync(dir, { recursive: true })
  }
  // In the compiled binary the executable is nixfleet itself; from source, the built binary.
  const bin = basename(process.execPath).startsWith('bun')
    ? resolve('dist/nixfleet')
    : process.execPath
  if (!existsSync(bin))
    throw new CliError('demo: run the compiled binary (bun run build, then dist/nixfleet demo)')

  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s)
  const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s)
  const say = (s: string) => process.stdout.write(`${s}\n`)
  const t0 = systemClock.monotonicMs()
  const clock = () => dim(`[${((systemClock.monotonicMs() - t0) / 1000).toFixed(1).padStart(4)}s]`)
  const { hosts, layout } = demoPlan(n)

  say(
    bold(
      `NixFleet demo — ${n} hosts in 3 channels, one control plane, ${n} agents, all real processes`
    )
  )
  say(
    dim(
      `  state, keys and logs in ${dir}${keep ? '' : ' (removed at exit; --keep DIR keeps them)'}`
    )
  )
  const lab = await Lab.create({
    dir,
    bin,
    plan: {
      channels: [
        {
          name: 'edge',
          soakMinutes: [0, 0],
          onHealthFailure: 'rollback-and-halt',
          sustainedFailureSecs: 3,
        },
        { name: 'staging', soakMinutes: [0], onHealthFailure: 'halt', sustainedFailureSecs: 3 },
        {
          name: 'stable',
          soakMinutes: [0, 0, 0],
          onHealthFailure: 'rollback-and-halt',
          sustainedFailureSecs: 3,
        },
      ],
      hosts,
      channelEdges: [['edge', 'stable']],
      budgets: [{ tags: ['stable'], maxInFlight: 2 }],
    },
  })
  let stopping = false
  let dashboard: LocalUi | undefined
  const onSignal = () => {
    stopping = true
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    say(
      `${clock()} created CI release key, org root key, fleet CA, trust.json, ${n} SSH host keys and bootstrap tokens`
    )
    const closures = (release: string, broken?: string): Record<string, string> =>
      Object.fromEntries(
        hosts.map((h) => [
          h.name,
          lab.closure(
            h.name,
            `${release}-${h.name}`,
            h.name === broken ? { kind: 'probe-fails' } : { kind: 'ok' }
          ),
        ])
      )
    const commit1 = await lab.release(closures('r1'))
    say(
      `${clock()} signed release 1 (${commit1.slice(0, 8)}) with nixfleet release: fleet.resolved + one manifest per channel`
    )
    const port = await lab.startControlPlane()
    say(
      `${clock()} control plane listening on https://127.0.0.1:${port} (mTLS, SQLite, release directory as source)`
    )
    dashboard = dashboardOf(lab)
    say(
      `${clock()} dashboard (nixfleet ui): ${bold(dashboard.url)} — open it to watch in a browser`
    )
    for (const h of hosts) lab.startAgent(h.name)
    say(
      `${clock()} started ${n} agents; each enrolls with its bootstrap token and its SSH host key`
    )
    say(dim(`  ${LEGEND}`))

    let drawn = 0
    const client = new OperatorClient(operatorConnection(lab))
    const snapshot = async (): Promise<Snapshot> => {
      const [h, r] = await Promise.all([client.hosts(), client.rollouts()])
      return {
        hosts: h.hosts.map(hostEntry),
        rollouts: r.rollouts.map(rolloutEntry),
      }
    }
    let lastPlain = ''
    const draw = (s: Snapshot) => {
      // A wrapped line would break the in-place redraw (it counts lines): cut to the width.
      const cols = Math.max(40, (process.stdout.columns ?? 120) - 1)
      const lines = renderFleet(layout, s.hosts, s.rollouts, color).map((l) => {
        const plain = l.replace(/\x1b\[[0-9;]*m/g, '')
        return live && plain.length > cols ? `${plain.slice(0, cols - 1)}…` : l
      })
      if (live) {
        if (drawn > 0) process.stdout.write(`\x1b[${drawn}A\x1b[J`)
        process.stdout.write(`${lines.join('\n')}\n`)
        drawn = lines.length
      } else {
        const text = lines.join('\n')
        if (text !== lastPlain) say(`${clock()}\n${text}`)
        lastPlain = text
      }
    }
    const settle = () => {
      drawn = 0
    }
    const waitUntil = async (
      what: string,
      done: (s: Snapshot) => boolean,
      timeoutMs: number
    ): Promise<Snapshot> => {
      const deadline = systemClock.monotonicMs() + timeoutMs
      for (;;) {
        if (stopping) throw new CliError('demo: interrupted')
        const s = await snapshot()
        draw(s)
        if (done(s)) {
          settle()
          return s
        }
        if (systemClock.monotonicMs() > deadline) {
          settle()
          throw new CliError(
            `demo: ${what} did not happen within ${timeoutMs / 1000} s; logs in ${lab.layout.logs}${keep ? '' : ' (rerun with --keep DIR to keep them)'}`
          )
        }
        await Bun.sleep(200)
      }
    }
    const stateOf = (s: Snapshot, host: string) =>
      s.hosts.find((h) => h.hostname === host)?.rolloutState
    // A host is done with a release when it runs that release's closure for its channel's rollout.
    const allConverged = (s: Snapshot, ids: readonly string[]) =>
      hosts.every((h) => {
        const e = s.hosts.find((x) => x.hostname === h.name)
        return e?.converged === true && ids.includes(e.lastRollout?.id ?? '')
      })

    const ids1 = ['edge', 'staging', 'stable'].map((c) => `${c}@${commit1}`)
    await waitUntil('release 1 converging everywhere', (s) => allConverged(s, ids1), 40_000)
    say(
      `${clock()} ${bold('release 1 converged on every host')}: canaries first, stable waited for edge (channel edge), at most 2 stable hosts in flight`
    )

    const canary = layout.find((l) => l.channel === 'stable')!.waves[0]![0]!
    const commit2 = await lab.release(closures('r2', canary))
    await lab.refresh()
    say(
      `${clock()} signed release 2 (${commit2.slice(0, 8)}); its ${canary} closure fails the host's health probe`
    )
    const failed = await waitUntil(
      `${canary} rolling back`,
      (s) => stateOf(s, canary) === 'Reverted',
      40_000
    )
    const quarantined = failed.hosts.find((h) => h.hostname === canary)?.quarantinedClosure
    say(
      `${clock()} ${bold(`${canary} failed its probe and was rolled back`)} to the closure it ran before the switch`
    )
    say(
      `${clock()} stable@${commit2.slice(0, 8)} is halted: no other stable host was dispatched${quarantined ? `; closure ${quarantined.slice(0, 12)}… quarantined` : ''}`
    )
    const others = layout
      .find((l) => l.channel === 'stable')!
      .waves.flat()
      .filter((h) => h !== canary)
    const touched = others.filter((h) => {
      const e = failed.hosts.find((x) => x.hostname === h)
      return e?.lastRollout?.id === `stable@${commit2}` && e.rolloutState !== 'Pending'
    })
    if (touched.length > 0)
      throw new CliError(`demo: halt did not hold: ${touched.join(', ')} were dispatched`)

    const commit3 = await lab.release(closures('r3'))
    await lab.refresh()
    say(
      `${clock()} signed release 3 (${commit3.slice(0, 8)}) with a fixed closure; it supersedes the halted rollout`
    )
    const ids3 = ['edge', 'staging', 'stable'].map((c) => `${c}@${commit3}`)
    const end = await waitUntil(
      'release 3 converging everywhere',
      (s) => allConverged(s, ids3),
      40_000
    )
    say(`${clock()} ${bold('release 3 converged on every host')}`)

    const events = await client.events(`stable@${commit2}`, { limit: 10000 })
    say('')
    say(bold('summary'))
    say(
      `  3 releases signed and verified; ${end.hosts.length} hosts converged on release 3 in ${((systemClock.monotonicMs() - t0) / 1000).toFixed(1)} s`
    )
    say(
      `  the failing canary was rolled back and quarantined; the halted rollout left ${others.length} stable hosts untouched`
    )
    say(
      `  event log of the halted rollout: ${events.events.length} entries (nixfleet rollout events stable@${commit2})`
    )
    if (keep) {
      writeKeepReadme(lab, dir, `stable@${commit2}`)
      say(`  the fleet keeps running; see ${join(dir, 'README.md')} for commands. Ctrl-C stops it.`)
      while (!stopping) await Bun.sleep(200)
    }
    return EXIT_OK
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await dashboard?.stop()
    await lab.close(keep !== undefined)
  }
}

/** `nixfleet ui` for the demo fleet, in-process: on port 8088 when free, else any port. */
function dashboardOf(lab: Lab): LocalUi {
  const l = lab.layout
  const cp = {
    url: `https://127.0.0.1:${lab.port}`,
    caPem: readFileSync(join(l.ca, 'ca.pem'), 'utf8'),
    certPem: readFileSync(`${l.operator}.pem`, 'utf8'),
    keyPem: readFileSync(`${l.operator}.key`, 'utf8'),
  }
  try {
    return startLocalUi(cp, '127.0.0.1', 8088)
  } catch {
    return startLocalUi(cp, '127.0.0.1', 0)
  }
}

/** The lab operator's connection to the lab's control plane. */
function operatorConnection(lab: Lab): Connection {
  const l = lab.layout
  const source = 'nixfleet demo'
  return {
    url: `https://127.0.0.1:${lab.port}`,
    caCert: join(l.ca, 'ca.pem'),
    clientCert: `${l.operator}.pem`,
    clientKey: `${l.operator}.key`,
    sources: { cp_url: source, ca_cert: source, client_cert: source, client_key: source },
  }
}

function writeKeepReadme(lab: Lab, dir: string, halted: string): void {
  const l = lab.layout
  const conn = operatorConnection(lab)
  const config = join(dir, 'operator.toml')
  writeFileSync(
    config,
    formatFlatToml(
      {
        cp_url: conn.url,
        ca_cert: conn.caCert,
        client_cert: conn.clientCert,
        client_key: conn.clientKey,
      },
      "the demo fleet's operator connection: export NIXFLEET_CONFIG=<this file>"
    ),
    { mode: 0o600 }
  )
  const curl = `curl -s --cacert ${join(l.ca, 'ca.pem')} --cert ${l.operator}.pem --key ${l.operator}.key https://127.0.0.1:${lab.port}`
  writeFileSync(
    join(dir, 'README.md'),
    [
      '# NixFleet demo fleet',
      '',
      'Everything here was made by `nixfleet demo`. While the demo runs, the control plane answers',
      `on https://127.0.0.1:${lab.port} with mutual TLS; the operator certificate is \`operator/lab.pem\`.`,
      '',
      'Point the operator commands at it and ask the fleet the day-two questions:',
      '',
      '```sh',
      `export NIXFLEET_CONFIG=${config}`,
      'nixfleet status                      # channels, rollouts, waves, host glyphs, problems',
      'nixfleet status --watch              # the same, redrawn as it changes (Ctrl-C stops)',
      'nixfleet hosts --problem             # hosts that need attention',
      'nixfleet rollout list --all          # every rollout and how it ended',
      `nixfleet rollout show ${halted}   # the halted rollout of release 2`,
      `nixfleet rollout events ${halted} --host stable-01`,
      'nixfleet quarantine list             # the failing canary closure of release 2',
      'nixfleet host show stable-01         # its closure history, probes, certificate, events',
      "nixfleet host retry stable-01 --reason 'try again' --yes   # refused (exit 1): release 3 converged",
      'nixfleet rollout wait --channel stable   # exits 0: the current rollout converged',
      'nixfleet audit                       # who did what and why',
      'nixfleet ui                          # the dashboard on http://127.0.0.1:8088/ui/ (the demo serves one already)',
      '```',
      '',
      'The same with curl:',
      '',
      '```sh',
      `${curl}/v1/hosts | jq`,
      `${curl}/v1/rollouts | jq`,
      `${curl}/v1/operator/status | jq`,
      `${curl}/v1/operator/quarantines | jq`,
      `${curl}/metrics`,
      `nixfleet verify artifact --artifact ${l.releases}/fleet.resolved.json --signature ${l.releases}/fleet.resolved.json.sig --trust-file ${l.trust}`,
      '```',
      '',
      `Logs: \`${l.logs}\` (one JSON object per line after its syslog priority, e.g. \`<6>{…}\`). Host state: \`hosts/<name>/\` (fake system, agent state dir).`,
      '',
    ].join('\n')
  )
}
