/**
 * Test support for the control plane: a lab on disk (CI and org-root keys, trust.json, a fleet
 * CA with server, agent and operator certificates, a signed release directory), an in-process
 * CP on a real SQLite file and real mTLS on 127.0.0.1 port 0, and agent/operator clients that
 * speak the wire protocol through `node:https` with their own certificates. No mocks: the CP
 * under test is the real one; time is a `FakeClock` the tests advance.
 */
import { afterEach, beforeEach } from 'bun:test'
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpsRequest, Agent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { JsonValue } from '../../src/crypto/canonical-json.ts'
import { canonicalizeValue } from '../../src/crypto/canonical-json.ts'
import { ed25519PublicKey, ed25519Sign } from '../../src/crypto/ed25519.ts'
import { formatOpenSshPublicKey } from '../../src/crypto/keys.ts'
import { sha256Bytes } from '../../src/crypto/sha256.ts'
import { toBase64, toHex, utf8 } from '../../src/lib/bytes.ts'
import { createCa, createOperatorCert, issueClientCert, issueServerCert } from '../../src/pki/ca.ts'
import { ed25519KeyPemFromSeed, type CaPems } from '../../src/pki/cert.ts'
import { createCsr } from '../../src/pki/csr.ts'
import { agentCommonName } from '../../src/pki/identity.ts'
import { toRfc3339 } from '../../src/proto/common.ts'
import { assembleRelease } from '../../src/release/assemble.ts'
import type { CpConfig } from '../../src/cp/config.ts'
import { createControlPlane, type ControlPlane, type CpOptions } from '../../src/cp/main.ts'
import { FakeClock } from '../../src/runtime/clock.ts'
import { createLogger } from '../../src/runtime/log.ts'

export const SUFFIX = 'fleet.test'
/** A fixed release time; the CP's fake clock starts a minute later. */
export const T0 = Date.parse('2026-05-01T12:00:00Z')

/** A closure basename for a host and a release generation. */
export function closureOf(host: string, gen = 1): string {
  const hash = `${gen}`.padStart(2, '0') + '0c6kzph7l0dcbfmjap64f0czdafn3b'.slice(0, 30)
  return `${hash}-nixos-system-${host}`
}

type Seed = { seed: Uint8Array; pub: Uint8Array }
function seedPair(): Seed {
  const { privateKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  const seed = new Uint8Array(Buffer.from(jwk.d!, 'base64url'))
  return { seed, pub: ed25519PublicKey(seed) }
}

/** A host of a test fleet. */
export type HostSpec = { readonly channel: string; readonly tags?: readonly string[] }

/** A test fleet: hosts, channel policies and waves (fleet.resolved shape, unsigned). */
export type FleetSpec = {
  readonly hosts: Readonly<Record<string, HostSpec>>
  readonly channels: Readonly<
    Record<
      string,
      {
        waves?: readonly (readonly string[])[]
        soakMinutes?: number
        policy?: 'halt' | 'rollback-and-halt'
      }
    >
  >
  readonly channelEdges?: readonly { gates: string; gated: string }[]
  readonly edges?: readonly { gated: string; gates: string }[]
  readonly budgets?: readonly { hosts: readonly string[]; maxInFlight: number }[]
}

/** The lab: keys, CA, trust file and release directory in a temp dir. */
export class Lab {
  readonly dir = mkdtempSync(join(tmpdir(), 'nixfleet-cp-'))
  readonly releaseDir = join(this.dir, 'repo', 'releases')
  readonly trustFile = join(this.dir, 'trust.json')
  readonly ci = seedPair()
  readonly org = seedPair()
  readonly hostKeys = new Map<string, Seed>()
  ca!: CaPems
  server!: { certPem: string; keyPem: string }
  operator!: { cert: string; key: string }
  caDir = join(this.dir, 'ca')

  static async create(): Promise<Lab> {
    const lab = new Lab()
    mkdirSync(lab.releaseDir, { recursive: true })
    mkdirSync(lab.caDir, { recursive: true })
    lab.ca = await createCa({
      commonName: 'NixFleet test CA',
      validityDays: 3650,
      now: T0 - 86_400_000,
    })
    lab.server = await issueServerCert({
      ca: lab.ca,
      names: ['localhost', '127.0.0.1'],
      now: Date.now(),
      validityDays: 30,
    })
    const op = await createOperatorCert({ ca: lab.ca, name: 'alice', now: Date.now() })
    lab.operator = { cert: op.certPem, key: op.keyPem }
    writeFileSync(join(lab.caDir, 'ca.pem'), lab.ca.certPem)
    writeFileSync(join(lab.caDir, 'ca.key'), lab.ca.keyPem)
    writeFileSync(join(lab.caDir, 'server.pem'), lab.server.certPem)
    writeFileSync(join(lab.caDir, 'server.key'), lab.server.keyPem)
    lab.writeTrust()
    return lab
  }

  /** Writes trust.json with the CI key (and `rejectBefore`, when given). */
  writeTrust(rejectBefore: string | null = null): void {
    const slot = (pub: Uint8Array) => ({
      current: { algorithm: 'ed25519', public: toBase64(pub) },
      previous: null,
      rejectBefore,
      successor: null,
      retireAt: null,
    })
    writeFileSync(
      this.trustFile,
      JSON.stringify({
        schemaVersion: 1,
        ciReleaseKey: slot(this.ci.pub),
        cacheKeys: [],
        orgRootKey: slot(this.org.pub),
      })
    )
  }

  /** The SSH host key of a host (created on first use). */
  hostKey(host: string): Seed {
    let k = this.hostKeys.get(host)
    if (k === undefined) this.hostKeys.set(host, (k = seedPair()))
    return k
  }

  /** The raw fleet.resolved JSON of a spec. */
  fleetJson(spec: FleetSpec): JsonValue {
    const hosts: Record<string, JsonValue> = {}
    for (const [name, h] of Object.entries(spec.hosts)) {
      hosts[name] = {
        platform: 'x86_64-linux',
        tags: [...(h.tags ?? [])],
        channel: h.channel,
        closureHash: null,
        pubkey: formatOpenSshPublicKey(this.hostKey(name).pub),
      }
    }
    const channels: Record<string, JsonValue> = {}
    const policies: Record<string, JsonValue> = {}
    const waves: Record<string, JsonValue> = {}
    for (const [name, c] of Object.entries(spec.channels)) {
      const soak = c.soakMinutes ?? 0
      channels[name] = {
        rolloutPolicy: `p-${name}`,
        reconcileIntervalMinutes: 30,
        freshnessWindow: 0,
        signingIntervalMinutes: 60,
      }
      const ws = c.waves ?? [
        Object.entries(spec.hosts)
          .filter(([, h]) => h.channel === name)
          .map(([n]) => n)
          .sort(),
      ]
      policies[`p-${name}`] = {
        strategy: 'canary',
        waves: ws.map(() => ({
          selector: { all: true, channel: null, hosts: [], tags: [], tagsAny: [] },
          soakMinutes: soak,
        })),
        healthGate: {},
        onHealthFailure: c.policy ?? 'halt',
      }
      waves[name] = ws.map((hs) => ({ hosts: [...hs].sort(), soakMinutes: soak }))
    }
    return {
      schemaVersion: 1,
      hosts,
      channels,
      rolloutPolicies: policies,
      waves,
      edges: (spec.edges ?? []).map((e) => ({ ...e, reason: null })),
      channelEdges: (spec.channelEdges ?? []).map((e) => ({ ...e, reason: null })),
      disruptionBudgets: (spec.budgets ?? []).map((b) => ({
        selector: { tags: [], tagsAny: [], hosts: [...b.hosts], channel: null, all: false },
        maxInFlight: b.maxInFlight,
        maxInFlightPct: null,
      })),
      meta: { schemaVersion: 1, signedAt: null, ciCommit: null },
    }
  }

  /** Signs and writes a release of `spec` (closures of generation `gen`); returns its rollout ids. */
  publish(
    spec: FleetSpec,
    opts: {
      gen?: number
      ciCommit?: string
      signedAt?: number
      revocations?: JsonValue
      nonces?: JsonValue
      dir?: string
    } = {}
  ): { rolloutIds: string[]; ciCommit: string } {
    const gen = opts.gen ?? 1
    const ciCommit = opts.ciCommit ?? `${gen}`.padStart(40, 'a')
    const closures = Object.fromEntries(Object.keys(spec.hosts).map((h) => [h, closureOf(h, gen)]))
    const release = assembleRelease({
      fleet: this.fleetJson(spec),
      closures,
      stamp: {
        signedAt: toRfc3339(opts.signedAt ?? T0, 'seconds'),
        ciCommit,
        signatureAlgorithm: 'ed25519',
      },
      revocations: opts.revocations,
      bootstrapNonces: opts.nonces,
    })
    const dir = opts.dir ?? this.releaseDir
    mkdirSync(join(dir, 'rollouts'), { recursive: true })
    for (const f of release.files) {
      writeFileSync(join(dir, f.path), f.canonical)
      writeFileSync(join(dir, `${f.path}.sig`), ed25519Sign(f.canonical, this.ci.seed))
    }
    return { rolloutIds: release.rolloutIds, ciCommit }
  }

  /** A bootstrap token for `host` signed by the org root (and its allow-list entry). */
  token(
    host: string,
    opts: { now?: number; hours?: number } = {}
  ): { token: Record<string, unknown>; entry: JsonValue } {
    const now = opts.now ?? T0
    const claims = {
      hostname: host,
      expectedPubkeyFingerprint: toBase64(sha256Bytes(this.hostKey(host).pub)),
      issuedAt: toRfc3339(now, 'seconds'),
      expiresAt: toRfc3339(now + (opts.hours ?? 24) * 3600_000, 'seconds'),
      nonce: toHex(crypto.getRandomValues(new Uint8Array(16))),
    }
    const signature = toBase64(ed25519Sign(utf8(canonicalizeValue(claims)), this.org.seed))
    return {
      token: { version: 1, claims, signature },
      entry: {
        nonce: claims.nonce,
        hostname: host,
        expiresAt: claims.expiresAt,
        mintedAt: null,
        mintedBy: null,
      },
    }
  }

  /** A CSR for `host` signed by its SSH host key. */
  csr(host: string): Promise<string> {
    return createCsr({ seed: this.hostKey(host).seed, commonName: host })
  }

  /** An agent client certificate for `host` (as enrolment would issue it). */
  async agentCert(
    host: string,
    opts: { now?: number; ca?: CaPems } = {}
  ): Promise<{ cert: string; key: string }> {
    const k = this.hostKey(host)
    const cn = agentCommonName(host, SUFFIX)
    const { parseCsr } = await import('../../src/pki/csr.ts')
    const csr = await parseCsr(await this.csr(host))
    if (!csr.ok) throw new Error(csr.error)
    const cert = await issueClientCert({
      ca: opts.ca ?? this.ca,
      subjectPublicKey: csr.spki,
      commonName: cn,
      sanDns: cn,
      now: opts.now ?? Date.now() - 60_000,
      validitySecs: 86_400,
      clientAuth: true,
    })
    return { cert, key: ed25519KeyPemFromSeed(k.seed) }
  }

  /** The CP configuration of this lab. */
  config(over: Partial<CpConfig> = {}, cadence: Partial<CpConfig['cadence']> = {}): CpConfig {
    return {
      listen: { host: '127.0.0.1', port: 0 },
      tls: {
        certPem: this.server.certPem,
        keyPem: this.server.keyPem,
        clientCaPem: this.ca.certPem,
      },
      trustFile: this.trustFile,
      database: { kind: 'sqlite', path: join(this.dir, 'state.db') },
      agentCnSuffix: SUFFIX,
      fleetCa: { certPath: join(this.caDir, 'ca.pem'), keyPath: join(this.caDir, 'ca.key') },
      agentCertValiditySecs: 86_400,
      auditLog: join(this.dir, 'issuance.log'),
      freshnessWindowSecs: 30 * 86_400,
      sources: { releaseDir: join(this.dir, 'repo') },
      strict: false,
      webhookTokenFile: undefined,
      closureUpstream: undefined,
      logLevel: 'error',
      cadence: {
        // Cadences far beyond a test's life: tests drive polls, plans and prunes explicitly.
        releasePollMs: 3600_000,
        listPollMs: 3600_000,
        planIntervalMs: 3600_000,
        pruneIntervalMs: 3600_000,
        primeTimeoutMs: 10_000,
        planDebounceMs: 0,
        startupDispatchHoldMs: 0,
        redeliverAfterMs: 90_000,
        ...cadence,
      },
      ...over,
    }
  }

  /** The flags of `nixfleet control-plane` for this lab (database and audit log under `cp/`). */
  cliArgs(extra: readonly string[] = []): string[] {
    return [
      'control-plane',
      '--listen',
      '127.0.0.1:0',
      '--tls-cert',
      join(this.caDir, 'server.pem'),
      '--tls-key',
      join(this.caDir, 'server.key'),
      '--client-ca',
      join(this.caDir, 'ca.pem'),
      '--trust-file',
      this.trustFile,
      '--agent-cn-suffix',
      SUFFIX,
      '--db-path',
      join(this.dir, 'cp', 'state.db'),
      '--audit-log',
      join(this.dir, 'cp', 'issuance.log'),
      '--release-dir',
      join(this.dir, 'repo'),
      ...extra,
    ]
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** An HTTP answer. */
export type Answer = {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: () => any
}

/** A TLS client with one identity (or none). */
export class Client {
  private readonly agent: Agent
  constructor(
    private readonly port: number,
    private readonly lab: Lab,
    identity?: { cert: string; key: string }
  ) {
    this.agent = new Agent({
      keepAlive: true,
      ca: lab.ca.certPem,
      ...(identity !== undefined ? { cert: identity.cert, key: identity.key } : {}),
    })
  }

  /** Sends a request; `body` objects are JSON-encoded. */
  send(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {}
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const payload =
        body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path,
          agent: this.agent,
          servername: 'localhost',
          headers: {
            ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
            // A chunked request (`transfer-encoding` given) declares no length.
            ...(payload !== undefined && headers['transfer-encoding'] === undefined
              ? { 'content-length': String(Buffer.byteLength(payload)) }
              : {}),
            'x-nixfleet-protocol': '1',
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              json: () => JSON.parse(text),
            })
          })
        }
      )
      req.on('error', reject)
      if (payload !== undefined) req.write(payload)
      req.end()
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

/** A running in-process CP with its lab and clock. */
export type TestCp = {
  readonly cp: ControlPlane
  readonly port: number
  readonly clock: FakeClock
  /** The operator client. */
  readonly operator: Client
  /** An agent client for `host` (certificate issued on first use). */
  agent(host: string): Promise<Client>
  anonymous(): Client
  stop(): Promise<void>
}

/** Starts the CP of `lab` with a fake clock one minute after the release time. */
export async function startCp(
  lab: Lab,
  opts: {
    config?: Partial<CpConfig>
    cadence?: Partial<CpConfig['cadence']>
    clock?: FakeClock
    cp?: CpOptions
  } = {}
): Promise<TestCp> {
  const clock = opts.clock ?? new FakeClock(T0 + 60_000)
  const cp = await createControlPlane(lab.config(opts.config, opts.cadence), {
    clock,
    log: createLogger({ component: 'cp-test', level: 'error' }),
    version: 'test',
    ...opts.cp,
  })
  const port = await cp.listen()
  const clients: Client[] = []
  const track = (c: Client): Client => {
    clients.push(c)
    return c
  }
  const agents = new Map<string, Client>()
  return {
    cp,
    port,
    clock,
    operator: track(new Client(port, lab, lab.operator)),
    async agent(host) {
      let c = agents.get(host)
      if (c === undefined)
        agents.set(host, (c = track(new Client(port, lab, await lab.agentCert(host)))))
      return c
    },
    anonymous: () => track(new Client(port, lab)),
    async stop() {
      await cp.stop()
      for (const c of clients) c.close()
    },
  }
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `ms`. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 5000
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** RFC 3339 of epoch milliseconds. */
export const iso = (ms: number): string => new Date(ms).toISOString()

/** Two hosts of one channel, a wave each. */
export const twoWaves: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
  channels: { stable: { waves: [['h1'], ['h2']] } },
}

/** The lab of the running test and the CP it started, if any (see `labPerTest`). */
export type PerTest = { lab: Lab; t: TestCp | undefined }

/** A fresh lab before each test of the file; after it, its CP is stopped and the lab removed. */
export function labPerTest(): PerTest {
  const env = {} as PerTest
  beforeEach(async () => {
    env.lab = await Lab.create()
  })
  afterEach(async () => {
    await env.t?.stop()
    env.t = undefined
    env.lab.cleanup()
  })
  return env
}

/** A successful activation of `host` to its generation-1 closure: ack, completion, convergence. */
export function activationEvents(host: string): Record<string, unknown>[] {
  return [
    {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: `old-${host}`,
      receivedAt: iso(T0 + 61_000),
    },
    {
      kind: 'ActivationCompleted',
      seq: 2,
      observedCurrentClosure: closureOf(host),
      exitCode: 0,
      completedAt: iso(T0 + 62_000),
    },
    { kind: 'Converged', seq: 3, convergedAt: iso(T0 + 63_000), currentClosure: closureOf(host) },
  ]
}

/** A failed activation of `host` and its rollback to `old-<host>` (seqs 1–3). */
export function revertEvents(host: string): Record<string, unknown>[] {
  return [
    {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: `old-${host}`,
      receivedAt: iso(T0 + 61_000),
    },
    {
      kind: 'ActivationFailed',
      seq: 2,
      exitCode: 1,
      stderrTail: 'unit nginx.service failed',
      failedAt: iso(T0 + 62_000),
    },
    {
      kind: 'RollbackComplete',
      seq: 3,
      revertedToClosure: `old-${host}`,
      exitCode: 0,
      completedAt: iso(T0 + 63_000),
    },
  ]
}
