/**
 * Test fixtures for the agent (used by `*.test.ts` beside the code and by the integration
 * tests): fake NixOS systems made of real files and shell shims (DECISIONS §7), signed releases
 * made with the real release code, trust files, and a TLS test server for client-side tests.
 * Nothing here is imported by the daemon.
 *
 * A fake system lives in one temp dir: `store/<32 nix-base32>-nixos-system-<name>` closures whose
 * `bin/switch-to-configuration` flips `current-system` (or fails, hangs, flips elsewhere, or asks
 * for a reboot through a differing `switch-inhibitors` file), plus shims for nix-store
 * (prints the path, or fails), nix-env (points the profile at the path) and systemd-run (runs the
 * command after `--` in the foreground, like `systemd-run --wait`).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonicalizeValue, type JsonValue } from '../crypto/canonical-json.ts'
import { ed25519PublicKey, ed25519Sign } from '../crypto/ed25519.ts'
import { sha256Hex } from '../crypto/sha256.ts'
import { toBase64 } from '../lib/bytes.ts'
import { createCa, issueServerCert, issueClientCert } from '../pki/ca.ts'
import { ed25519KeyPemFromSeed, type CaPems } from '../pki/cert.ts'
import { createCsr, parseCsr } from '../pki/csr.ts'
import { assembleRelease, formatSignedAt } from '../release/assemble.ts'
import type { SystemPaths } from './config.ts'

const NIX32 = '0123456789abcdfghijklmnpqrsvwxyz'

/** A fresh temporary directory. */
export function tempDir(prefix = 'nixfleet-agent-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Removes a directory tree. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

/** A deterministic store basename `<32 nix-base32 chars>-nixos-system-<name>`. */
export function closureId(name: string): string {
  const hex = sha256Hex(new TextEncoder().encode(name))
  let hash = ''
  for (let i = 0; i < 32; i++) hash += NIX32[parseInt(hex.slice(i * 2, i * 2 + 2), 16) % 32]
  return `${hash}-nixos-system-${name}`
}

function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
}

/** How a fake closure's `switch-to-configuration switch` behaves. */
export type SwitchBehavior =
  | { readonly kind: 'ok' }
  | { readonly kind: 'fail'; readonly exitCode: number; readonly stderr: string }
  | { readonly kind: 'hang' }
  | { readonly kind: 'flip-to'; readonly closure: string }

/** A fake NixOS system under one temp dir. */
export type FakeSystem = {
  readonly root: string
  readonly paths: SystemPaths
  readonly storeDir: string
  /** Creates a closure; returns its basename. */
  closure(name: string, opts?: { behavior?: SwitchBehavior; inhibitors?: string }): string
  /** Points current-system at a closure (a simulated reboot into it). */
  setCurrent(closure: string): void
  /** Makes the nix-store shim fail with `stderr` (or succeed again with `undefined`). */
  failRealise(stderr: string | undefined): void
}

/** The control plane's certificate flags for a directory made by `nixfleet ca init --out DIR`. */
export function caDirFlags(dir: string): string[] {
  return [
    '--tls-cert', join(dir, 'server.pem'),
    '--tls-key', join(dir, 'server.key'),
    '--fleet-ca-cert', join(dir, 'ca.pem'),
    '--fleet-ca-key', join(dir, 'ca.key'),
  ]
}

/** The agent's NixOS touch-point flags, pointed at a fake system's paths. */
export function systemFlags(p: SystemPaths): string[] {
  return [
    '--current-system', p.currentSystem,
    '--system-profile', p.systemProfile,
    '--nix-store-dir', p.nixStoreDir,
    '--nix-store', p.nixStore,
    '--nix-env', p.nixEnv,
    '--systemd-run', p.systemdRun,
    '--switch-lock', p.switchLock,
  ]
}

/** Creates a fake system whose current system is a fresh closure named `initial`. */
export function fakeSystem(root: string, initial = 'initial'): FakeSystem {
  const storeDir = join(root, 'store')
  const bin = join(root, 'bin')
  mkdirSync(storeDir, { recursive: true })
  mkdirSync(bin, { recursive: true })
  const currentSystem = join(root, 'current-system')
  const systemProfile = join(root, 'profiles', 'system')
  mkdirSync(join(root, 'profiles'), { recursive: true })
  const realiseFail = join(root, 'realise-fail')
  script(
    join(bin, 'nix-store'),
    `[ "$1" = "--realise" ] || exit 2\nif [ -f '${realiseFail}' ]; then cat '${realiseFail}' >&2; exit 1; fi\n[ -d "$2" ] || { echo "error: path '$2' is not valid" >&2; exit 1; }\necho "$2"`
  )
  script(
    join(bin, 'nix-env'),
    `[ "$1" = "--profile" ] && [ "$3" = "--set" ] || exit 2\nln -sfn "$4" "$2"`
  )
  script(
    join(bin, 'systemd-run'),
    `while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"`
  )
  const paths: SystemPaths = {
    currentSystem,
    systemProfile,
    nixStoreDir: storeDir,
    nixStore: join(bin, 'nix-store'),
    nixEnv: join(bin, 'nix-env'),
    systemdRun: join(bin, 'systemd-run'),
    flock: 'flock',
    switchLock: join(root, 'switch.lock'),
  }
  const sys: FakeSystem = {
    root,
    paths,
    storeDir,
    closure(name, opts = {}) {
      const id = closureId(name)
      const dir = join(storeDir, id)
      mkdirSync(join(dir, 'bin'), { recursive: true })
      const b = opts.behavior ?? { kind: 'ok' }
      const onSwitch =
        b.kind === 'ok'
          ? `ln -sfn '${dir}' '${currentSystem}'`
          : b.kind === 'fail'
            ? `echo '${b.stderr}' >&2; exit ${b.exitCode}`
            : b.kind === 'hang'
              ? 'sleep 3600'
              : `ln -sfn '${join(storeDir, b.closure)}' '${currentSystem}'`
      script(
        join(dir, 'bin', 'switch-to-configuration'),
        `case "$1" in\n  switch) ${onSwitch} ;;\n  boot) echo boot > '${join(dir, 'booted')}' ;;\n  *) exit 1 ;;\nesac`
      )
      if (opts.inhibitors !== undefined)
        writeFileSync(join(dir, 'switch-inhibitors'), opts.inhibitors)
      return id
    },
    setCurrent(closure) {
      rmSync(currentSystem, { force: true })
      symlinkSync(join(storeDir, closure), currentSystem)
    },
    failRealise(stderr) {
      if (stderr === undefined) rmSync(realiseFail, { force: true })
      else writeFileSync(realiseFail, stderr)
    },
  }
  sys.setCurrent(sys.closure(initial))
  return sys
}

/** A deterministic test seed from a label. */
export function seedOf(label: string): Uint8Array {
  const hex = sha256Hex(new TextEncoder().encode(`seed:${label}`))
  return Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)))
}

/** The trust.json for a CI key seed (optionally with CA PEMs). */
export function trustFileFor(ciSeed: Uint8Array, caPem?: string): string {
  return JSON.stringify({
    schemaVersion: 1,
    ciReleaseKey: {
      current: { algorithm: 'ed25519', public: toBase64(ed25519PublicKey(ciSeed)) },
      previous: null,
      rejectBefore: null,
      successor: null,
      retireAt: null,
    },
    cacheKeys: [],
    orgRootKey: null,
    rootCaPem: caPem ?? null,
    issuanceCaPems: [],
  })
}

/** The parameters of a test fleet: one channel, hosts with optional closures. */
export type FleetSpec = {
  readonly hosts: Readonly<
    Record<string, { closure?: string | undefined; pubkey?: string | undefined }>
  >
  readonly channel?: string
  readonly onHealthFailure?: 'halt' | 'rollback-and-halt'
  readonly soakMinutes?: number
  readonly sustainedFailureSecs?: number
  /** The channel's `freshnessWindow` in minutes (default one day). */
  readonly freshnessWindowMinutes?: number
}

/** The raw fleet.resolved input (unsigned, closures not yet injected). */
export function fleetJson(spec: FleetSpec): JsonValue {
  const channel = spec.channel ?? 'stable'
  const names = Object.keys(spec.hosts).sort()
  const hosts: Record<string, JsonValue> = {}
  for (const n of names) {
    hosts[n] = {
      platform: 'x86_64-linux',
      tags: [],
      channel,
      closureHash: null,
      pubkey: spec.hosts[n]?.pubkey ?? null,
    }
  }
  return {
    schemaVersion: 1,
    hosts,
    channels: {
      [channel]: {
        rolloutPolicy: 'default',
        reconcileIntervalMinutes: 30,
        freshnessWindow: spec.freshnessWindowMinutes ?? 1440,
        signingIntervalMinutes: 60,
      },
    },
    rolloutPolicies: {
      default: {
        strategy: 'canary',
        waves: [
          {
            selector: { all: true, channel: null, hosts: [], tags: [], tagsAny: [] },
            soakMinutes: spec.soakMinutes ?? 0,
          },
        ],
        healthGate:
          spec.sustainedFailureSecs !== undefined
            ? { sustainedFailureSecs: spec.sustainedFailureSecs }
            : {},
        onHealthFailure: spec.onHealthFailure ?? 'rollback-and-halt',
      },
    },
    waves: { [channel]: [{ hosts: names, soakMinutes: spec.soakMinutes ?? 0 }] },
    edges: [],
    channelEdges: [],
    disruptionBudgets: [],
    meta: { schemaVersion: 1, signedAt: null, ciCommit: null },
  }
}

/** A signed release: every artifact's bytes and detached signature, keyed by release path. */
export type SignedRelease = {
  readonly files: ReadonlyMap<
    string,
    { readonly bytes: Uint8Array; readonly signature: Uint8Array }
  >
  readonly rolloutId: string
  readonly fleetHash: string
}

/** Signs a release of `spec` at `signedAtMs` with the CI seed (real release code). */
export function signRelease(
  spec: FleetSpec,
  ciSeed: Uint8Array,
  ciCommit: string,
  signedAtMs: number
): SignedRelease {
  const closures: Record<string, string> = {}
  for (const [n, h] of Object.entries(spec.hosts)) if (h.closure) closures[n] = h.closure
  const out = assembleRelease({
    fleet: fleetJson(spec),
    closures,
    stamp: { signedAt: formatSignedAt(signedAtMs), ciCommit, signatureAlgorithm: 'ed25519' },
  })
  const files = new Map<string, { bytes: Uint8Array; signature: Uint8Array }>()
  for (const f of out.files)
    files.set(f.path, { bytes: f.canonical, signature: ed25519Sign(f.canonical, ciSeed) })
  return { files, rolloutId: out.rolloutIds[0] ?? '', fleetHash: out.fleetHash }
}

/** Re-signs arbitrary JSON (e.g. a tampered manifest that is validly signed). */
export function signJson(
  value: JsonValue,
  ciSeed: Uint8Array
): { bytes: Uint8Array; signature: Uint8Array } {
  const bytes = new TextEncoder().encode(canonicalizeValue(value))
  return { bytes, signature: ed25519Sign(bytes, ciSeed) }
}

/** A test PKI: a CA, a localhost server certificate, and a client identity for a host seed. */
export type TestPki = {
  readonly ca: CaPems
  readonly server: { readonly certPem: string; readonly keyPem: string }
  clientFor(
    host: string,
    seed: Uint8Array,
    validitySecs?: number
  ): Promise<{ certPem: string; keyPem: string }>
}

/** Creates a CA and server certificate for 127.0.0.1/localhost. */
export async function testPki(now = Date.now()): Promise<TestPki> {
  const ca = await createCa({ commonName: 'agent test CA', validityDays: 30, now })
  const server = await issueServerCert({
    ca,
    names: ['localhost', '127.0.0.1'],
    now,
    validityDays: 30,
  })
  return {
    ca,
    server,
    async clientFor(host, seed, validitySecs = 3600) {
      const csr = await parseCsr(await createCsr({ seed, commonName: host }))
      if (!csr.ok) throw new Error(csr.error)
      const cn = `agent-${host}.fleet.test`
      const certPem = await issueClientCert({
        ca,
        subjectPublicKey: csr.spki,
        commonName: cn,
        sanDns: cn,
        now: Date.now(),
        validitySecs,
        clientAuth: true,
      })
      return { certPem, keyPem: ed25519KeyPemFromSeed(seed) }
    },
  }
}

/** A request as the test server hands it to a handler. */
export type TestRequest = {
  readonly method: string
  /** Path and query, e.g. `/v1/agent/dispatch?wait=1`. */
  readonly path: string
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: string
}

/** A reply of the test server. */
export type TestReply = {
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Uint8Array
}

/** A running HTTPS test server (a stand-in CP for client-side unit tests). */
export type TestServer = { readonly url: string; stop(): void }

/**
 * Serves `handler` over HTTPS on 127.0.0.1 with an ephemeral port. Built on node:https, not
 * Bun.serve: other test files start the CP in-process, whose Hono adapter replaces the global
 * Response class, which Bun.serve then refuses.
 */
export async function httpsServer(
  pki: TestPki,
  handler: (req: TestRequest) => TestReply | Promise<TestReply>
): Promise<TestServer> {
  const server = createHttpsServer(
    { cert: pki.server.certPem, key: pki.server.keyPem },
    (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const request: TestRequest = {
          method: req.method ?? 'GET',
          path: req.url ?? '/',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }
        Promise.resolve(handler(request)).then(
          (reply) => {
            res.writeHead(reply.status, reply.headers ?? {})
            res.end(reply.body === undefined ? undefined : Buffer.from(reply.body))
          },
          () => {
            res.writeHead(500)
            res.end()
          }
        )
      })
    }
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as { port: number }).port
  return {
    url: `https://127.0.0.1:${port}`,
    stop: () => {
      server.closeAllConnections()
      server.close()
    },
  }
}

/** A JSON reply. */
export function jsonReply(
  body: unknown,
  status = 200,
  headers: Readonly<Record<string, string>> = {}
): TestReply {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  }
}

/** Polls `check` every 20 ms until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000
): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** A spawned process whose stderr (JSON-lines logs) is collected as it arrives. */
export type LoggedProcess = {
  readonly proc: ReturnType<typeof Bun.spawn>
  /** Every stderr line so far. */
  readonly lines: string[]
  /** Waits for a JSON log line satisfying `match` (searching lines already seen first). */
  waitForLog(
    what: string,
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number
  ): Promise<Record<string, unknown>>
  /** Resolves with the exit code. */
  readonly exited: Promise<number>
}

/** Spawns `argv` with stdout/stderr captured; stderr lines are parsed as JSON when possible. */
export function spawnLogged(
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {}
): LoggedProcess {
  const proc = Bun.spawn([...argv], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    env: { ...process.env, ...env },
  })
  const lines: string[] = []
  let partial = ''
  const pump = (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      partial += decoder.decode(chunk, { stream: true })
      const parts = partial.split('\n')
      partial = parts.pop() ?? ''
      lines.push(...parts)
    }
    if (partial) lines.push(partial)
  })()
  void Bun.readableStreamToText(proc.stdout as ReadableStream<Uint8Array>)
  const parse = (l: string): Record<string, unknown> | undefined => {
    try {
      const j = JSON.parse(l) as unknown
      return typeof j === 'object' && j !== null ? (j as Record<string, unknown>) : undefined
    } catch {
      return undefined
    }
  }
  return {
    proc,
    lines,
    exited: pump.then(() => proc.exited),
    waitForLog(what, match, timeoutMs = 20_000) {
      return waitFor(
        what,
        () => {
          for (const l of lines) {
            const j = parse(l)
            if (j && match(j)) return j
          }
          if (proc.exitCode !== null)
            throw new Error(
              `process exited (${proc.exitCode}) before ${what}:\n${lines.slice(-30).join('\n')}`
            )
          return undefined
        },
        timeoutMs
      ).catch((e: Error) => {
        throw new Error(`${e.message}\nlast lines:\n${lines.slice(-30).join('\n')}`)
      })
    },
  }
}

/** A TCP port that was free a moment ago (for a server that must keep its port across restarts). */
export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = s.port
  s.stop(true)
  return port
}
