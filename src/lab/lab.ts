/**
 * A whole NixFleet fleet on one machine — the harness of `nixfleet demo` and of the end-to-end
 * suite. It builds everything a real deployment has with the real commands of the `nixfleet`
 * binary (keygen, trust init, ca init, mint-operator-cert, mint-token, release) and runs the
 * control plane and one agent per host as separate processes over mTLS on loopback. Each host
 * has its own SSH host key, state directory and fake NixOS system (closures are directories
 * whose `switch-to-configuration` flips a symlink, fails, hangs or asks for a reboot).
 * Invariants: every file lives under `dir`; `close()` stops every process it started.
 * Host setup is in hosts.ts and the fake system in fake-system.ts; what stays here is the fleet's
 * lifecycle (create, release, start/stop, close), one class the tests drive.
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { sha256Hex } from '../crypto/sha256.ts'
import { parseRfc3339Ms, toRfc3339 } from '../proto/common.ts'
import { systemClock } from '../runtime/clock.ts'
import { parseLogLine } from '../runtime/log.ts'
import { caDirFlags } from './fake-system.ts'
import { labFleetJson } from './fleet.ts'
import {
  type ClosureBehavior,
  agentArgvOf,
  createLabHost,
  LAB_KERNEL,
  type LabHostState,
  type LabOptions,
  run,
} from './hosts.ts'
import { type Child, Supervisor } from './processes.ts'

export type { ClosureBehavior, LabHostPlan, LabHostState, LabOptions, LabPlan } from './hosts.ts'

export class Lab {
  readonly hosts = new Map<string, LabHostState>()
  private readonly sup = new Supervisor()
  private cpChild: Child | undefined
  private cpPort = 0
  private releases = 0
  /** The last signedAt the lab's releases used (epoch ms, whole seconds). */
  private lastSignedAtMs = 0
  private closed = false
  private readonly paths

  private constructor(readonly opts: LabOptions) {
    const d = opts.dir
    this.paths = {
      keys: join(d, 'keys'),
      ca: join(d, 'ca'),
      trust: join(d, 'trust.json'),
      operator: join(d, 'operator', 'lab'),
      fleet: join(d, 'fleet.json'),
      nonces: join(d, 'bootstrap-nonces.json'),
      revocations: join(d, 'revocations.json'),
      releases: join(d, 'releases'),
      cpDir: join(d, 'control-plane'),
      logs: join(d, 'logs'),
    }
  }

  /** Creates every key, certificate, host and token of the fleet (no process runs yet). */
  static async create(opts: LabOptions): Promise<Lab> {
    const lab = new Lab(opts)
    const p = lab.paths
    for (const d of [p.keys, join(opts.dir, 'operator'), p.releases, p.cpDir, p.logs])
      mkdirSync(d, { recursive: true })
    const nf = (args: string[], what: string) => run([opts.bin, ...args], what)
    await nf(['keygen', '--out', join(p.keys, 'ci-release')], 'keygen (CI release key)')
    await nf(['keygen', '--out', join(p.keys, 'org-root')], 'keygen (org root key)')
    await nf(['ca', 'init', '--out', p.ca], 'ca init')
    await nf(
      [
        'trust',
        'init',
        '--ci-release-key',
        join(p.keys, 'ci-release.pub'),
        '--org-root-key',
        join(p.keys, 'org-root.pub'),
        '--root-ca',
        join(p.ca, 'ca.pem'),
        '--out',
        p.trust,
      ],
      'trust init'
    )
    await nf(
      ['mint-operator-cert', '--ca', p.ca, '--name', 'lab', '--out', p.operator],
      'mint-operator-cert'
    )

    // Hosts are independent: make their keys, systems and tokens concurrently.
    const nonces = await Promise.all(
      opts.plan.hosts.map(async (plan) => {
        const { host, entry } = await createLabHost(opts, plan, p.keys, nf)
        lab.hosts.set(plan.name, host)
        return JSON.parse(
          entry
            .trim()
            .split('\n')
            .find((l) => l.startsWith('{')) ?? '{}'
        ) as unknown
      })
    )
    writeFileSync(p.nonces, JSON.stringify({ bootstrapNonces: nonces }, null, 2))
    writeFileSync(p.revocations, JSON.stringify({ revocations: [] }, null, 2))
    const fleetHosts = [...lab.hosts.values()].map((h) => ({ ...h.plan, pubkey: h.pubkey }))
    writeFileSync(
      p.fleet,
      JSON.stringify(labFleetJson({ ...opts.plan, hosts: fleetHosts }), null, 2)
    )
    return lab
  }

  /** The directory layout. */
  get layout(): Readonly<typeof this.paths> {
    return this.paths
  }

  /** The control plane's port (after `startControlPlane`). */
  get port(): number {
    return this.cpPort
  }

  /** The control plane process, when running. */
  get controlPlane(): Child | undefined {
    return this.cpChild
  }

  private host(name: string): LabHostState {
    // A scenario that outlives its lab (a timed-out test) must not recreate files or processes.
    if (this.closed) throw new Error('the lab is closed')
    const h = this.hosts.get(name)
    if (!h) throw new Error(`no lab host ${name}`)
    return h
  }

  /** Creates closure `name` on `host` with the given behaviour; returns its store basename. */
  closure(host: string, name: string, behavior: ClosureBehavior = { kind: 'ok' }): string {
    const sys = this.host(host).system
    // NixOS asks for a reboot when the new system's switch inhibitors differ from the running
    // one's; every lab closure declares the same kernel except a reboot closure.
    const inhibitors = JSON.stringify({
      kernel: behavior.kind === 'reboot' ? `6.12-${name}` : LAB_KERNEL,
    })
    const id =
      behavior.kind === 'reboot' || behavior.kind === 'probe-fails' || behavior.kind === 'slow'
        ? sys.closure(name, { inhibitors })
        : sys.closure(name, { behavior, inhibitors })
    const dir = join(sys.storeDir, id)
    if (behavior.kind === 'probe-fails')
      writeFileSync(join(dir, 'probe-fails'), 'this release breaks the host\n')
    // Every switch is recorded in the closure, so scenarios can prove a host was (not) activated.
    const script = join(dir, 'bin', 'switch-to-configuration')
    const body = readFileSync(script, 'utf8').replace('#!/bin/sh\n', '')
    const slow =
      behavior.kind === 'slow' ? `[ "$1" = switch ] && sleep ${behavior.delaySecs}\n` : ''
    writeFileSync(script, `#!/bin/sh\necho "$1" >> '${join(dir, 'switch-log')}'\n${slow}${body}`)
    return id
  }

  /** Makes a `probe-fails` closure of `host` healthy (its cause fixed outside the release). */
  heal(host: string, closure: string): void {
    rmSync(join(this.host(host).system.storeDir, closure, 'probe-fails'), { force: true })
  }

  /** How many times `switch-to-configuration switch` ran for `closure` on `host`. */
  switchCount(host: string, closure: string): number {
    const log = join(this.host(host).system.storeDir, closure, 'switch-log')
    return existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l === 'switch').length
      : 0
  }

  /** Points `host`'s current system at `closure` (what a reboot into it does). */
  reboot(host: string, closure: string): void {
    this.host(host).system.setCurrent(closure)
  }

  /**
   * Signs a release with `nixfleet release`: `closures` maps host → closure basename. Returns
   * the release's commit id. `signedAt` backdates (or postdates) the signature.
   */
  async release(
    closures: Readonly<Record<string, string>>,
    opts: { signedAt?: string; commit?: string } = {}
  ): Promise<string> {
    if (this.closed) throw new Error('the lab is closed')
    this.releases++
    // A stand-in for the release repository's git commit: 40 hex characters, unique per release.
    const commit =
      opts.commit ??
      sha256Hex(new TextEncoder().encode(`${this.opts.dir}:release-${this.releases}`)).slice(0, 40)
    const closuresFile = join(this.opts.dir, `closures-${this.releases}.json`)
    writeFileSync(closuresFile, JSON.stringify(closures, null, 2))
    const args = [
      'release',
      '--fleet',
      this.paths.fleet,
      '--closures',
      closuresFile,
      '--key',
      join(this.paths.keys, 'ci-release.key'),
      '--ci-commit',
      commit,
      '--release-dir',
      this.paths.releases,
      '--bootstrap-nonces',
      this.paths.nonces,
      '--revocations',
      this.paths.revocations,
    ]
    // signedAt has whole seconds and a changed release must advance it (anti-rollback), so two
    // releases within one second would be refused: the lab's next release is a second later.
    const signedAt =
      opts.signedAt ?? toRfc3339(Math.max(systemClock.now(), this.lastSignedAtMs + 1000), 'seconds')
    this.lastSignedAtMs = Math.max(
      this.lastSignedAtMs,
      Math.floor(parseRfc3339Ms(signedAt) / 1000) * 1000
    )
    args.push('--now', signedAt)
    await run([this.opts.bin, ...args], 'release')
    return commit
  }

  /** Replaces the revocation list used by the next release. */
  setRevocations(
    entries: readonly { hostname: string; notBefore: string; reason?: string }[]
  ): void {
    writeFileSync(this.paths.revocations, JSON.stringify({ revocations: entries }, null, 2))
  }

  /**
   * The command line of a lab control plane on `port` with the database flags `database` and
   * the audit log `auditLog` (one per process: replicas on one database each have their own).
   */
  controlPlaneArgv(
    port: number,
    database: readonly string[],
    auditLog: string,
    extra: readonly string[] = []
  ): string[] {
    const ca = this.paths.ca
    return [
      this.opts.bin,
      'control-plane',
      '--listen',
      `127.0.0.1:${port}`,
      ...caDirFlags(ca),
      '--client-ca',
      join(ca, 'ca.pem'),
      '--trust-file',
      this.paths.trust,
      ...database,
      '--audit-log',
      auditLog,
      '--agent-cn-suffix',
      'lab.nixfleet',
      '--release-dir',
      this.paths.releases,
      '--poll-interval-secs',
      '2',
      '--list-poll-interval-secs',
      '2',
      '--plan-interval-secs',
      '1',
      '--plan-debounce-ms',
      '20',
      '--prime-timeout-secs',
      '5',
      '--startup-dispatch-hold-secs',
      '3',
      ...extra,
    ]
  }

  /** Starts the control plane on an ephemeral loopback port and waits until it listens. */
  async startControlPlane(extra: readonly string[] = []): Promise<number> {
    if (this.closed) throw new Error('the lab is closed')
    const log = join(this.paths.logs, 'control-plane.log')
    const argv = this.controlPlaneArgv(
      this.cpPort,
      ['--db-path', join(this.paths.cpDir, 'state.db')],
      join(this.paths.cpDir, 'issuance.log'),
      extra
    )
    const before = existsSync(log) ? readFileSync(log, 'utf8').length : 0
    this.cpChild = this.sup.spawn('control-plane', argv, log)
    const deadline = systemClock.monotonicMs() + 20_000
    for (;;) {
      const text = existsSync(log) ? readFileSync(log, 'utf8').slice(before) : ''
      const line = text.split('\n').find((l) => l.includes('"msg":"listening"'))
      if (line) {
        this.cpPort = Number(parseLogLine(line)?.record['port'])
        return this.cpPort
      }
      if (!this.cpChild.isRunning())
        throw new Error(`control plane exited at start:\n${text.slice(-2000)}`)
      if (systemClock.monotonicMs() > deadline)
        throw new Error('control plane did not start listening within 20 s')
      await Bun.sleep(25)
    }
  }

  /** Stops the control plane (SIGTERM, or SIGKILL to simulate a crash). */
  async stopControlPlane(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<number> {
    const c = this.cpChild
    this.cpChild = undefined
    return c ? c.stop(signal) : 0
  }

  /** The agent command line of `host`; `extra` flags replace the lab's of the same name. */
  agentArgv(host: string, extra: readonly string[] = []): string[] {
    return agentArgvOf({
      bin: this.opts.bin,
      cpUrl: `https://127.0.0.1:${this.cpPort}`,
      trust: this.paths.trust,
      caCert: join(this.paths.ca, 'ca.pem'),
      name: host,
      host: this.host(host),
      extra,
    })
  }

  /** Starts the agent of `host`, with `extra` flags if given. */
  startAgent(host: string, extra: readonly string[] = []): Child {
    const h = this.host(host)
    if (h.agent?.isRunning()) return h.agent
    h.agent = this.sup.spawn(
      `agent ${host}`,
      this.agentArgv(host, extra),
      join(this.paths.logs, `agent-${host}.log`)
    )
    return h.agent
  }

  /** Stops the agent of `host` (SIGTERM, or SIGKILL to simulate a crash). */
  async stopAgent(host: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<number> {
    const h = this.host(host)
    const a = h.agent
    h.agent = undefined
    return a ? a.stop(signal) : 0
  }

  /** The basename of `host`'s current system. */
  currentClosure(host: string): string {
    return basename(readlinkSync(this.host(host).system.paths.currentSystem))
  }

  /** Calls the control plane's API as the lab operator; returns status and parsed JSON body. */
  async api<T = unknown>(
    path: string,
    init: { method?: string; body?: unknown } = {}
  ): Promise<{ status: number; body: T }> {
    const op = this.paths.operator
    const res = await fetch(`https://127.0.0.1:${this.cpPort}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', 'x-nixfleet-protocol': '1' },
      ...(init.body !== undefined
        ? { body: JSON.stringify(init.body) }
        : init.method === 'POST'
          ? { body: '{}' }
          : {}),
      tls: {
        cert: readFileSync(`${op}.pem`, 'utf8'),
        key: readFileSync(`${op}.key`, 'utf8'),
        ca: readFileSync(join(this.paths.ca, 'ca.pem'), 'utf8'),
      },
      signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    let body: unknown = text
    try {
      body = text ? JSON.parse(text) : null
    } catch {
      // Prometheus text and empty bodies stay strings.
    }
    return { status: res.status, body: body as T }
  }

  /** Asks the control plane to poll the release directory now. */
  async refresh(): Promise<void> {
    const r = await this.api('/v1/operator/refresh', { method: 'POST' })
    if (r.status >= 300) throw new Error(`refresh answered ${r.status}`)
  }

  /** Stops every process; removes the directory unless `keep`. */
  async close(keep = false): Promise<void> {
    this.closed = true
    await this.sup.stopAll()
    if (!keep) rmSync(this.opts.dir, { recursive: true, force: true })
  }
}
