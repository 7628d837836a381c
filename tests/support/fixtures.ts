/**
 * Test-only fixtures (used by `*.test.ts` beside the code, the integration and end-to-end tests
 * and the benchmarks): temp directories, signed releases made with the real release code, trust
 * files, a TLS test server for client-side tests, process helpers. The fake NixOS system they
 * drive is product code (`src/lab/fake-system.ts`, used by the demo) and is re-exported here.
 * Nothing under src/ imports this file outside tests.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonicalizeValue, type JsonValue } from '../../src/crypto/canonical-json.ts'
import { ed25519PublicKey, ed25519Sign } from '../../src/crypto/ed25519.ts'
import { sha256Hex } from '../../src/crypto/sha256.ts'
import { toBase64 } from '../../src/lib/bytes.ts'
import { createCa, issueServerCert, issueClientCert } from '../../src/pki/ca.ts'
import { ed25519KeyPemFromSeed, type CaPems } from '../../src/pki/cert.ts'
import { createCsr, parseCsr } from '../../src/pki/csr.ts'
import { toRfc3339 } from '../../src/proto/common.ts'
import { parseLogLine } from '../../src/runtime/log.ts'
import { assembleRelease } from '../../src/release/assemble.ts'

export {
  caDirFlags,
  closureId,
  fakeSystem,
  systemFlags,
  type FakeSystem,
  type SwitchBehavior,
} from '../../src/lab/fake-system.ts'

/** A fresh temporary directory. */
export function tempDir(prefix = 'nixfleet-agent-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Removes a directory tree. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
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
    stamp: { signedAt: toRfc3339(signedAtMs, 'seconds'), ciCommit, signatureAlgorithm: 'ed25519' },
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
  const parse = (l: string): Record<string, unknown> | undefined => parseLogLine(l)?.record
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
