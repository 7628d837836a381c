/**
 * The lab's types, the `nixfleet` runner it builds everything with, and the making of one
 * host: its SSH host key, fake NixOS system, exec health check and bootstrap token.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ed25519PublicKey, ed25519RandomSeed } from '../crypto/ed25519.ts'
import { encodeOpenSshPrivateKey, formatOpenSshPublicKey } from '../crypto/keys.ts'
import { type FakeSystem, type SwitchBehavior, fakeSystem, systemFlags } from './fake-system.ts'
import type { LabChannel } from './fleet.ts'
import type { Child } from './processes.ts'

// The kernel every ordinary lab closure runs; a closure with another one needs a reboot.
export const LAB_KERNEL = '6.6.58'

/** A host of the lab before keys exist. */
export type LabHostPlan = {
  readonly name: string
  readonly channel: string
  readonly wave: number
  readonly tags?: readonly string[]
}

/** The shape of a lab fleet. */
export type LabPlan = {
  readonly channels: readonly LabChannel[]
  readonly hosts: readonly LabHostPlan[]
  readonly channelEdges?: readonly (readonly [string, string])[]
  readonly hostEdges?: readonly (readonly [string, string])[]
  readonly budgets?: readonly { readonly tags: readonly string[]; readonly maxInFlight: number }[]
}

/** How a host's closure in a release behaves. */
export type ClosureBehavior =
  | SwitchBehavior
  | { readonly kind: 'reboot' }
  | { readonly kind: 'probe-fails' }
  | { readonly kind: 'slow'; readonly delaySecs: number }

/** One host's files and fake system. */
export type LabHostState = {
  readonly plan: LabHostPlan
  readonly dir: string
  readonly system: FakeSystem
  readonly keyPath: string
  readonly seed: Uint8Array
  readonly pubkey: string
  agent: Child | undefined
}

/** Options of a lab. */
export type LabOptions = {
  readonly dir: string
  /** The `nixfleet` executable (the compiled binary). */
  readonly bin: string
  readonly plan: LabPlan
  /** Probe interval of the lab's exec health check (≥ 5 s, the agent's floor). */
  readonly probeIntervalSecs?: number
}

/** Runs a command; its output, or an error naming `what` and the last stderr line. */
export const run = async (argv: string[], what: string): Promise<string> => {
  const proc = Bun.spawn(argv, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0)
    throw new Error(`${what} failed (exit ${code}): ${err.trim().split('\n').slice(-1)[0] ?? ''}`)
  return out + err
}

/** A running (or ready to run) lab fleet. */

/** Makes one host's files and fake system; returns it and `mint-token`'s output. */
export async function createLabHost(
  opts: LabOptions,
  plan: LabHostPlan,
  keys: string,
  nf: (args: string[], what: string) => Promise<string>
): Promise<{ host: LabHostState; entry: string }> {
  const dir = join(opts.dir, 'hosts', plan.name)
  mkdirSync(join(dir, 'state'), { recursive: true })
  const seed = ed25519RandomSeed()
  const keyPath = join(dir, 'ssh_host_ed25519_key')
  writeFileSync(keyPath, encodeOpenSshPrivateKey(seed, `root@${plan.name}`), { mode: 0o600 })
  const pubkey = formatOpenSshPublicKey(ed25519PublicKey(seed), `root@${plan.name}`)
  const system = fakeSystem(join(dir, 'system'), `installed-${plan.name}`)
  writeFileSync(
    join(system.paths.currentSystem, 'switch-inhibitors'),
    JSON.stringify({ kernel: LAB_KERNEL })
  )
  const probe = {
    'system-healthy': {
      kind: 'exec',
      mode: 'enforce',
      intervalSeconds: opts.probeIntervalSecs ?? 5,
      // A closure carrying a `probe-fails` marker is the broken release of the scenarios.
      command: ['sh', '-c', `test ! -e "$(readlink ${system.paths.currentSystem})/probe-fails"`],
    },
  }
  writeFileSync(join(dir, 'health-checks.json'), JSON.stringify(probe, null, 2))
  const entry = await nf(
    [
      'mint-token',
      '--hostname',
      plan.name,
      '--pubkey',
      pubkey,
      '--org-root-key',
      join(keys, 'org-root.key'),
      '--validity-hours',
      '24',
      '--out',
      join(dir, 'bootstrap-token.json'),
    ],
    `mint-token ${plan.name}`
  )
  return { host: { plan, dir, system, keyPath, seed, pubkey, agent: undefined }, entry }
}

/** The lab's agent command line for one host; `extra` flags replace the lab's of the same name. */
export function agentArgvOf(o: {
  readonly bin: string
  readonly cpUrl: string
  readonly trust: string
  readonly caCert: string
  readonly name: string
  readonly host: LabHostState
  readonly extra: readonly string[]
}): string[] {
  const h = o.host
  const argv = [
    o.bin,
    'agent',
    '--control-plane-url',
    o.cpUrl,
    '--machine-id',
    o.name,
    '--trust-file',
    o.trust,
    '--ca-cert',
    o.caCert,
    '--client-cert',
    join(h.dir, 'state', 'agent.crt'),
    // The one host key: it is the TLS key and signs the certificate request.
    '--ssh-host-key-file',
    h.keyPath,
    '--bootstrap-token-file',
    join(h.dir, 'bootstrap-token.json'),
    '--state-dir',
    join(h.dir, 'state'),
    '--health-checks-config',
    join(h.dir, 'health-checks.json'),
    ...systemFlags(h.system.paths),
    '--manifest-poll-interval-secs',
    '1',
    '--heartbeat-interval-secs',
    '1',
    '--dispatch-wait-secs',
    '10',
    '--tick-interval-ms',
    '200',
    '--drain-interval-secs',
    '1',
    '--switch-poll-interval-ms',
    '50',
    '--switch-timeout-secs',
    '20',
    '--enroll-retry-secs',
    '1',
    '--backoff-max-secs',
    '2',
  ]
  return [...withoutFlags(argv, o.extra), ...o.extra]
}

/** `argv` without the flags (and their values) that `extra` sets. */
function withoutFlags(argv: readonly string[], extra: readonly string[]): string[] {
  const set = new Set(extra.filter((a) => a.startsWith('--')))
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (set.has(argv[i]!)) i++
    else out.push(argv[i]!)
  }
  return out
}
