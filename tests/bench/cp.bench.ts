/**
 * `bun run bench:cp [--agents N] [--seconds S] [--heartbeat-secs H] [--wave0-pct P]
 *  [--client-processes K] [--floor] [--replicas R]`: the control plane under a fleet-sized
 * load, on this machine, with real mTLS.
 *
 * 1. A lab in a temp dir: fleet CA, CP server and operator certificates, N agent certificates,
 *    a signed release (generation 1) of N hosts in two waves (wave 0 = P % of them).
 * 2. The CP runs as its own process (`src/main.ts control-plane`) on SQLite, or with
 *    `--replicas R` as R processes on one throwaway PostgreSQL (`tests/support/postgres.ts`),
 *    the first started leading. The simulated agents run in K load processes (`cp-clients.ts`,
 *    `cp-load.ts`; K = 1 by default, and never fewer than ⌈N / 15,000⌉ so no process nears the
 *    20,000-descriptor limit): each agent heartbeats every H seconds and keeps a long-poll open
 *    in between; with replicas, agent i starts at replica i mod R and fails over to the others.
 *    Agents start at generation 1, so the CP converges them by synthesis.
 * 3. Steady state: heartbeat latency p50/p99 over S seconds (over every load process's samples
 *    together), CP RSS (max) and CPU.
 * 4. Publish: generation 2 is signed into the release directory and `POST /v1/operator/refresh`
 *    called; the time until every wave-0 dispatch reached its agent is measured.
 * With replicas, then: the leader is killed (SIGKILL); `failover_ms` is the time until another
 *    replica has taken the lead (its `leading` log line, written once its state is loaded, its
 *    mutator started and its release restored: the line's own timestamp); `status_ms` the time
 *    until it reports `nixfleet_cp_leader 1` and answers `/v1/operator/status` to a new mTLS
 *    connection, amid the killed replica's agents reconnecting; the fleet's
 *    heartbeats are measured again over S seconds on the survivors (`after_failover`). RSS is
 *    the largest replica's, CPU the replicas' sum; heartbeat percentiles are also given per
 *    replica with its role (`by_replica`: a follower's go through PostgreSQL to the leader).
 * 5. With `--floor`, once the CP has stopped: the same agents (same certificates, heartbeat
 *    pattern and K) against a bare mTLS Hono server with no state (`cp-floor.ts`, its own
 *    process), measured the same way; the CP's figures are then also given as ratios to it.
 * Every child process is killed when the benchmark exits, also on failure (`cp-children.ts`).
 * The last line of output is one JSON object with the figures.
 */
import type { Subprocess } from 'bun'
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ed25519PublicKey, ed25519Sign } from '../../src/crypto/ed25519.ts'
import { toBase64 } from '../../src/lib/bytes.ts'
import { createCa, createOperatorCert, issueServerCert } from '../../src/pki/ca.ts'
import { toRfc3339 } from '../../src/proto/common.ts'
import { assembleRelease } from '../../src/release/assemble.ts'
import { freePort } from '../support/fixtures.ts'
import { startPostgres } from '../support/postgres.ts'
import { benchHost, issueBenchCerts } from './cp-certs.ts'
import { cpuSeconds, rssMb, stopChild, track } from './cp-children.ts'
import { LoadClients, portOrder, type HbSummary, type LoadConfig } from './cp-clients.ts'
import type { FloorConfig } from './cp-floor.ts'

const REPO = resolve(import.meta.dir, '..', '..')
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    agents: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    'heartbeat-secs': { type: 'string', default: '10' },
    'wave0-pct': { type: 'string', default: '10' },
    'client-processes': { type: 'string', default: '1' },
    floor: { type: 'boolean', default: false },
    replicas: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
const N = Number(values.agents)
const S = Number(values.seconds)
const H = Number(values['heartbeat-secs'])
// One load process holds its agents' sockets: 15,000 leaves room under the 20,000 fd limit.
const K = Math.max(Number(values['client-processes']), Math.ceil(N / 15_000))
if (!Number.isInteger(K) || K < 1 || K > N)
  throw new Error('--client-processes must be an integer from 1 to the number of agents')
const R = values.replicas === undefined ? undefined : Number(values.replicas)
if (R !== undefined && (!Number.isInteger(R) || R < 1))
  throw new Error('--replicas must be a positive integer')
const WAVE0 = Math.max(1, Math.ceil((N * Number(values['wave0-pct'])) / 100))
const SUFFIX = 'bench.test'
const log = (msg: string): void => {
  process.stdout.write(`${msg}\n`)
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const dir = mkdtempSync(join(tmpdir(), 'nixfleet-bench-cp-'))
const releaseDir = join(dir, 'releases')
mkdirSync(join(releaseDir, 'rollouts'), { recursive: true })

// --- the lab
const t0 = performance.now()
const now = Date.now()
const ca = await createCa({ commonName: 'NixFleet bench CA', validityDays: 30, now })
const server = await issueServerCert({
  ca,
  names: ['localhost', '127.0.0.1'],
  now,
  validityDays: 30,
})
const operator = await createOperatorCert({ ca, name: 'bench', now })
const ciSeed = crypto.getRandomValues(new Uint8Array(32))
const agentKey = generateKeyPairSync('ed25519')
const agentSpki = new Uint8Array(agentKey.publicKey.export({ type: 'spki', format: 'der' }))
const agentKeyPem = agentKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
const hosts = Array.from({ length: N }, (_, i) => benchHost(i))
const certs = await issueBenchCerts(ca, agentSpki, SUFFIX, N)
const files = {
  ca: join(dir, 'ca.pem'),
  caKey: join(dir, 'ca.key'),
  cert: join(dir, 'server.pem'),
  key: join(dir, 'server.key'),
  trust: join(dir, 'trust.json'),
  db: join(dir, 'state.db'),
  floor: join(dir, 'floor.json'),
  floorLog: join(dir, 'floor.log'),
}
writeFileSync(files.ca, ca.certPem)
writeFileSync(files.caKey, ca.keyPem)
writeFileSync(files.cert, server.certPem)
writeFileSync(files.key, server.keyPem)
const slot = {
  current: { algorithm: 'ed25519', public: toBase64(ed25519PublicKey(ciSeed)) },
  previous: null,
  rejectBefore: null,
  successor: null,
  retireAt: null,
}
writeFileSync(
  files.trust,
  JSON.stringify({ schemaVersion: 1, ciReleaseKey: slot, cacheKeys: [], orgRootKey: null })
)

const closureOf = (host: string, gen: number): string =>
  `${String(gen).padStart(2, '0')}${'0c6kzph7l0dcbfmjap64f0czdafn3b'}-nixos-system-${host}`
function publish(gen: number): string {
  const fleet = {
    schemaVersion: 1,
    hosts: Object.fromEntries(
      hosts.map((h) => [
        h,
        { platform: 'x86_64-linux', tags: [], channel: 'stable', closureHash: null, pubkey: null },
      ])
    ),
    channels: {
      stable: {
        rolloutPolicy: 'canary',
        reconcileIntervalMinutes: 30,
        freshnessWindow: 0,
        signingIntervalMinutes: 60,
      },
    },
    rolloutPolicies: {
      canary: {
        strategy: 'canary',
        waves: [
          {
            selector: { all: true, channel: null, hosts: [], tags: [], tagsAny: [] },
            soakMinutes: 0,
          },
          {
            selector: { all: true, channel: null, hosts: [], tags: [], tagsAny: [] },
            soakMinutes: 0,
          },
        ],
        healthGate: {},
        onHealthFailure: 'halt',
      },
    },
    waves: {
      stable: [
        { hosts: hosts.slice(0, WAVE0), soakMinutes: 0 },
        { hosts: hosts.slice(WAVE0), soakMinutes: 0 },
      ],
    },
    edges: [],
    channelEdges: [],
    disruptionBudgets: [],
    meta: { schemaVersion: 1, signedAt: null, ciCommit: null },
  }
  const ciCommit = String(gen).repeat(40).slice(0, 40)
  const release = assembleRelease({
    fleet,
    closures: Object.fromEntries(hosts.map((h) => [h, closureOf(h, gen)])),
    stamp: {
      signedAt: toRfc3339(Date.now() - 1000, 'seconds'),
      ciCommit,
      signatureAlgorithm: 'ed25519',
    },
  })
  for (const f of release.files) {
    writeFileSync(join(releaseDir, `${f.path}.sig`), ed25519Sign(f.canonical, ciSeed))
    writeFileSync(join(releaseDir, f.path), f.canonical)
  }
  return release.rolloutIds[0]!
}
publish(1)
// With replicas: one throwaway PostgreSQL for all of them, stopped when the benchmark exits.
const pg = R === undefined ? undefined : await startPostgres()
if (pg !== undefined) process.on('exit', () => void pg.stop())
const ports: number[] = []
for (let r = 0; r < (R ?? 1); r++) ports.push(await freePort())
log(
  `lab ready in ${Math.round(performance.now() - t0)} ms: ${N} agents in ${K} load process${K > 1 ? 'es' : ''}, wave 0 = ${WAVE0} hosts, heartbeat every ${H} s${R !== undefined ? `, ${R} replica${R > 1 ? 's' : ''} on PostgreSQL` : ''}`
)

// --- the CP (or its replicas)
const cpLogOf = (r: number): string => join(dir, R === undefined ? 'cp.log' : `cp-${r}.log`)
/** Starts control-plane process `r` on `ports[r]`. */
function startCp(r: number): Subprocess {
  const cpLog = Bun.file(cpLogOf(r))
  const database =
    pg === undefined
      ? ['--db-path', files.db]
      : [
          '--database',
          pg.url,
          '--database-password-file',
          pg.passwordFile,
          '--replica-id',
          `cp-${r}`,
        ]
  return track(
    Bun.spawn(
      [
        process.execPath,
        // BENCH_CP_PROFILE=DIR writes a CPU profile of the CP (markdown) into DIR on exit.
        ...(process.env['BENCH_CP_PROFILE']
          ? ['--cpu-prof-md', `--cpu-prof-dir=${process.env['BENCH_CP_PROFILE']}`]
          : []),
        join(REPO, 'src', 'main.ts'),
        'control-plane',
        '--listen',
        `127.0.0.1:${ports[r]}`,
        '--tls-cert',
        files.cert,
        '--tls-key',
        files.key,
        '--client-ca',
        files.ca,
        '--trust-file',
        files.trust,
        ...database,
        '--agent-cn-suffix',
        SUFFIX,
        '--release-dir',
        dir,
        // Each replica its own audit log, as on separate hosts.
        '--audit-log',
        join(dir, R === undefined ? 'issuance.log' : `issuance-${r}.log`),
        // Replicas at info: the new leader's `leading` line says where a failover's time went.
        '--log-level',
        R === undefined ? 'warn' : 'info',
        // Every simulated agent connects from 127.0.0.1: the per-address limit on connections
        // still without a certificate (meant for one host's worth) would refuse the fleet's own
        // handshakes. Raised here only; the pending-handshake limit stays the default.
        '--max-anonymous-per-address',
        '100000',
      ],
      {
        stdin: 'ignore',
        stdout: cpLog,
        stderr: cpLog,
        // BUN_JSC_* options (e.g. BUN_JSC_logGC=1) reach the CP, so GC pauses can be studied.
        env: {
          PATH: process.env['PATH'] ?? '',
          ...Object.fromEntries(
            Object.entries(process.env).filter(([k]) => k.startsWith('BUN_JSC_'))
          ),
        },
      }
    )
  )
}
const tls = {
  cert: operator.certPem,
  key: operator.keyPem,
  ca: ca.certPem,
  checkServerIdentity: () => undefined,
}
/** The replica the operator calls go to: the leader (the only process with one replica). */
let leader = 0
const api = (method: string, path: string, p = ports[leader]!) =>
  fetch(`https://127.0.0.1:${p}${path}`, {
    method,
    headers: { 'x-nixfleet-protocol': '1' },
    tls,
    signal: AbortSignal.timeout(30_000),
  } as RequestInit)
/** Waits until the server on `p` answers `/healthz` with `ready` (60 s at most). */
async function waitReady(
  p: number,
  proc: Subprocess,
  what: string,
  logFile: string
): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`https://127.0.0.1:${p}/healthz`, { tls } as RequestInit)
      if (r.ok && ((await r.json()) as { ready: boolean }).ready) return
    } catch {
      // not listening yet
    }
    if (i > 600 || proc.exitCode !== null)
      throw new Error(`${what} did not become ready (see ${logFile})`)
    await sleep(100)
  }
}
/** The CP's metrics on port `p` as series → value (histogram buckets, sums and counts included). */
async function scrape(p = ports[leader]!): Promise<Map<string, number>> {
  const text = await (await api('GET', '/metrics', p)).text()
  const m = new Map<string, number>()
  for (const [, k, n] of text.matchAll(/^(nixfleet_\S+) (\S+)$/gm)) m.set(k!, Number(n))
  return m
}
/** Whether replica `r` leads and its mutator serves (`/v1/operator/status` answers). */
async function leads(r: number): Promise<boolean> {
  try {
    if ((await scrape(ports[r])).get('nixfleet_cp_leader') !== 1) return false
    return (await api('GET', '/v1/operator/status', ports[r])).status === 200
  } catch {
    return false
  }
}
/**
 * The first of `candidates` to log `leading` (written once it has taken the lead; its fields say
 * how long each step took), polled every 50 ms for `timeoutMs` at most.
 */
async function tookTheLead(
  candidates: readonly number[],
  timeoutMs: number
): Promise<{ replica: number; text: string; line: { ts: string } }> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    for (const r of candidates) {
      const text = (await Bun.file(cpLogOf(r)).text())
        .split('\n')
        .find((l) => l.includes('"msg":"leading"'))
      if (text !== undefined) {
        const json = text.slice(text.indexOf('{'))
        return { replica: r, text: json, line: JSON.parse(json) }
      }
    }
    await sleep(50)
  }
  throw new Error(`no replica of ${candidates.join(', ')} took the lead within ${timeoutMs} ms`)
}
/** The first of `candidates` to lead, polled every 50 ms for `timeoutMs` at most. */
async function newLeader(candidates: readonly number[], timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    const found = await Promise.all(candidates.map(leads))
    const i = found.indexOf(true)
    if (i >= 0) return candidates[i]!
    await sleep(50)
  }
  throw new Error(`no replica of ${candidates.join(', ')} led within ${timeoutMs} ms`)
}
// The first process starts alone (with replicas: so it takes the lead), then the others.
const cps: Subprocess[] = [startCp(0)]
await waitReady(ports[0]!, cps[0]!, 'control plane', cpLogOf(0))
if (R !== undefined) {
  leader = await newLeader([0], 60_000)
  for (let r = 1; r < R; r++) cps.push(startCp(r))
  await Promise.all(cps.map((p, r) => waitReady(ports[r]!, p, `replica ${r}`, cpLogOf(r))))
  log(`${R} replicas ready, replica ${leader} leading`)
} else log('control plane ready')

// --- the agents
// Connecting the fleet: 300 s, more for a fleet beyond 15,000 agents (about 50 handshakes a second).
const connectSecs = Math.max(300, Math.ceil(N / 50))
// Converging generation 1 by heartbeat synthesis: the same bound (a 30,000-host fleet takes
// about five minutes from the rollout's opening, much of it while the agents connect).
const convergeSecs = connectSecs
const fleet: LoadConfig = {
  ports: hosts.map((_, i) => portOrder(ports, i)),
  ca: ca.certPem,
  key: agentKeyPem,
  certs,
  hosts,
  closures: Object.fromEntries(hosts.map((h) => [h, closureOf(h, 1)])),
  heartbeatSecs: H,
  connectConcurrency: 64,
  // Connecting, converging, warming up, the window and publishing, each bounded below; with
  // replicas also the failover, a second warm-up and window.
  maxSeconds:
    connectSecs + convergeSecs + H + S + 120 + 60 + (R !== undefined ? 60 + 2 * H + S + 30 : 0),
}
const load = LoadClients.start(fleet, K, dir, 'load')
log(`agents connected in ${await load.connected(connectSecs * 1000)}`)
const convergeStart = performance.now()
for (let i = 0; ; i++) {
  try {
    const r = (await (await api('GET', '/v1/rollouts')).json()) as { rollouts: unknown[] }
    if (r.rollouts.length === 0) break
  } catch {
    // A leader busy converging a large fleet may not answer within the call's timeout: ask again.
  }
  if (i > 2 * convergeSecs || performance.now() - convergeStart > convergeSecs * 1000)
    throw new Error('generation 1 did not converge')
  await sleep(500)
}
log(
  `generation 1 converged (by heartbeat synthesis) ${Math.round((performance.now() - convergeStart) / 1000)} s after the fleet connected; warming up ${H} s`
)
await sleep(H * 1000)

// --- steady state
/**
 * One measured window of S seconds: the fleet's heartbeats, the largest RSS of any of `servers`
 * and their CPU together.
 */
async function steadyState(
  servers: readonly Subprocess[],
  clients: LoadClients
): Promise<{ hb: HbSummary; rss: number; cpuPct: number; loadPct: number; elapsed: number }> {
  const cpu = (): number => servers.reduce((a, p) => a + cpuSeconds(p.pid), 0)
  clients.measure()
  const cpu0 = cpu()
  const load0 = clients.cpuSeconds()
  const w0 = performance.now()
  let rss = 0
  while (performance.now() - w0 < S * 1000) {
    rss = Math.max(rss, ...servers.map((p) => rssMb(p.pid)))
    await sleep(500)
  }
  const elapsed = (performance.now() - w0) / 1000
  const cpuPct = ((cpu() - cpu0) / elapsed) * 100
  const loadPct = ((clients.cpuSeconds() - load0) / elapsed) * 100
  const hb = await clients.report(30_000)
  return { hb, rss, cpuPct, loadPct, elapsed }
}
/** With replicas: each one's role (`leader` while it is `leader`) and its heartbeats' figures. */
const perReplica = (hb: HbSummary) =>
  ports.flatMap((p, r) => {
    const f = hb.byPort.get(p)
    if (R === undefined || f === undefined) return []
    const ms = (x: number): number => Number(x.toFixed(2))
    const role = r === leader ? 'leader' : 'follower'
    return [{ replica: r, role, heartbeats: f.count, hb_p50_ms: ms(f.p50), hb_p99_ms: ms(f.p99) }]
  })
const replicaLines = (hb: HbSummary): string =>
  perReplica(hb)
    .map(
      (x) =>
        `\n  replica ${x.replica} (${x.role}): ${x.heartbeats} heartbeats, p50 ${x.hb_p50_ms} ms, p99 ${x.hb_p99_ms} ms`
    )
    .join('')
const summary = (hb: HbSummary): string =>
  `${hb.count} heartbeats, p50 ${hb.p50.toFixed(2)} ms, p99 ${hb.p99.toFixed(2)} ms, max ${hb.max.toFixed(1)} ms, errors ${hb.errors}, reconnects ${hb.reconnects}; heartbeats sent per 100 ms: mean ${hb.burstMeanPer100ms.toFixed(0)}, max ${hb.burstMaxPer100ms}`
const scrape0 = await scrape()
const followers = ports.map((_, r) => r).filter((r) => r !== leader)
const followerScrapes0 =
  R === undefined ? [] : await Promise.all(followers.map((r) => scrape(ports[r])))
const { hb, rss, cpuPct, loadPct, elapsed } = await steadyState(cps, load)
const scrape1 = await scrape()
const followerScrapes1 =
  R === undefined ? [] : await Promise.all(followers.map((r) => scrape(ports[r])))
const delta = (k: string): number => (scrape1.get(k) ?? 0) - (scrape0.get(k) ?? 0)
const lagBuckets = [...scrape1.keys()].filter((k) =>
  k.startsWith('nixfleet_cp_event_loop_lag_seconds_bucket')
)
const lagTotal = delta('nixfleet_cp_event_loop_lag_seconds_count')
const lagOver = lagBuckets.map((k) => `≤${/le="([^"]+)"/.exec(k)![1]} s: ${delta(k)}`).join(', ')
/** The reducer's inputs between two scrapes: count and time spent, by input type. */
function reducerWork(from: Map<string, number>, to: Map<string, number>): string {
  const d = (k: string): number => (to.get(k) ?? 0) - (from.get(k) ?? 0)
  return [...to.keys()]
    .filter((k) => k.startsWith('nixfleet_cp_reducer_input_duration_seconds_count') && d(k) > 0)
    .map(
      (k) =>
        `${/input="([^"]+)"/.exec(k)![1]} ${d(k)}× ${(d(k.replace('_count', '_sum')) * 1000).toFixed(0)} ms`
    )
    .join(', ')
}
log(`CP reducer work over the window: ${reducerWork(scrape0, scrape1)}`)
log(`CP event-loop lag over the window, ${lagTotal} samples of 50 ms (cumulative): ${lagOver}`)
/** A follower's refreshes from the database and its event-loop stalls between two scrapes. */
function followerWork(from: Map<string, number>, to: Map<string, number>): string {
  const d = (k: string): number => (to.get(k) ?? 0) - (from.get(k) ?? 0)
  const refresh = ['quick', 'full']
    .map((kind) => {
      const k = `nixfleet_cp_follower_refresh_seconds_count{kind="${kind}"}`
      return `${kind} ${d(k)}× ${(d(k.replace('_count', '_sum')) * 1000).toFixed(0)} ms`
    })
    .join(', ')
  const lagKey = (le: string) => `nixfleet_cp_event_loop_lag_seconds_bucket{le="${le}"}`
  const over = (le: string) => d('nixfleet_cp_event_loop_lag_seconds_count') - d(lagKey(le))
  return `refreshes ${refresh}; event-loop lag samples over 0.05 s: ${over('0.05')}, over 0.1 s: ${over('0.1')}, over 0.5 s: ${over('0.5')}`
}
followers.forEach((r, i) =>
  log(`follower ${r}: ${followerWork(followerScrapes0[i]!, followerScrapes1[i]!)}`)
)
log(`steady state over ${elapsed.toFixed(1)} s: ${summary(hb)}${replicaLines(hb)}`)
const byReplica = perReplica(hb)
log(
  `CP RSS ${rss.toFixed(0)} MB, CP CPU ${cpuPct.toFixed(0)} % (load process${K > 1 ? 'es' : ''} ${loadPct.toFixed(0)} %; 200 % = both cores)`
)

// --- publish to delivery
load.clear()
const scrape2 = await scrape()
const rid2 = publish(2)
const published = Date.now()
const refresh = await api('POST', '/v1/operator/refresh')
log(`generation 2 published; refresh answered ${refresh.status} after ${Date.now() - published} ms`)
const delivered = new Set<string>()
let last = published
const deadline = Date.now() + 120_000
while (delivered.size < WAVE0 && Date.now() < deadline) {
  for (const d of load.takeDispatches()) {
    if (d.rollout === rid2 && d.wave === 0) {
      delivered.add(d.host)
      last = Math.max(last, d.at)
    }
  }
  await sleep(20)
}
const publishToDelivery = delivered.size === WAVE0 ? last - published : NaN
log(
  `wave 0 of generation 2: ${delivered.size}/${WAVE0} dispatches delivered, last ${publishToDelivery} ms after publishing`
)
log(`CP reducer work while publishing: ${reducerWork(scrape2, await scrape())}`)

// --- failover: the leader killed under the fleet's load
let failover:
  | { ms: number; statusMs: number; hb: HbSummary; byReplica: ReturnType<typeof perReplica> }
  | undefined
if (R !== undefined && R > 1) {
  const killed = leader
  const survivors = ports.map((_, r) => r).filter((r) => r !== killed)
  const refusedBefore = await Promise.all(survivors.map((r) => scrape(ports[r])))
  const killedAt = performance.now()
  const killedAtWall = Date.now()
  cps[killed]!.kill('SIGKILL')
  const took = await tookTheLead(survivors, 60_000)
  const ms = Date.parse(took.line.ts) - killedAtWall
  log(
    `replica ${killed} killed; replica ${took.replica} took the lead after ${ms} ms: ${took.text}`
  )
  leader = await newLeader(survivors, 60_000)
  const statusMs = Math.round(performance.now() - killedAt)
  log(`replica ${leader} reports nixfleet_cp_leader 1 and answers status after ${statusMs} ms`)
  // What the survivors' listeners refused meanwhile: the killed replica's agents reconnecting.
  const refusedAfter = await Promise.all(survivors.map((r) => scrape(ports[r])))
  survivors.forEach((r, i) => {
    const refused = [...refusedAfter[i]!.keys()]
      .filter((k) => k.startsWith('nixfleet_cp_connections_refused_total'))
      .map((k) => {
        const n = (refusedAfter[i]!.get(k) ?? 0) - (refusedBefore[i]!.get(k) ?? 0)
        return `${/reason="([^"]+)"/.exec(k)?.[1] ?? k} ${n}`
      })
      .join(', ')
    log(`replica ${r}: connections refused since the kill: ${refused || 'none'}`)
  })
  await cps[killed]!.exited
  // The killed replica's agents back off (full jitter) before they reach the survivors.
  log(`warming up ${2 * H} s on the survivors`)
  await sleep(2 * H * 1000)
  const after = await steadyState(
    cps.filter((_, r) => r !== killed),
    load
  )
  log(
    `after the failover, over ${after.elapsed.toFixed(1)} s: ${summary(after.hb)}${replicaLines(after.hb)}`
  )
  failover = { ms, statusMs, hb: after.hb, byReplica: perReplica(after.hb) }
}

// --- stop
await load.stop()
const stopAt = performance.now()
const codes = await Promise.all(cps.map((p) => stopChild(p)))
log(
  `control plane${cps.length > 1 ? 's' : ''} stopped with exit ${codes.join(', ')} in ${Math.round(performance.now() - stopAt)} ms`
)
await pg?.stop()

// --- the transport floor: the same fleet against a server with no state
let floor: { hb: HbSummary; rss: number; cpuPct: number } | undefined
if (values.floor) {
  const floorPort = await freePort()
  const floorCfg: FloorConfig = {
    port: floorPort,
    certPem: server.certPem,
    keyPem: server.keyPem,
    caPem: ca.certPem,
    maxSeconds: 300 + H + S + 120,
  }
  writeFileSync(files.floor, JSON.stringify(floorCfg))
  const floorLog = Bun.file(files.floorLog)
  const floorProc = track(
    Bun.spawn([process.execPath, join(import.meta.dir, 'cp-floor.ts'), files.floor], {
      stdin: 'pipe',
      stdout: floorLog,
      stderr: floorLog,
      env: { PATH: process.env['PATH'] ?? '' },
    })
  )
  await waitReady(floorPort, floorProc, 'floor server', files.floorLog)
  log('floor server ready')
  const floorLoad = LoadClients.start(
    { ...fleet, ports: hosts.map(() => [floorPort]), maxSeconds: 300 + H + S + 60 },
    K,
    dir,
    'floor-load'
  )
  log(
    `agents connected to the floor server in ${await floorLoad.connected(300_000)}; warming up ${H} s`
  )
  await sleep(H * 1000)
  const f = await steadyState([floorProc], floorLoad)
  log(`floor over ${f.elapsed.toFixed(1)} s: ${summary(f.hb)}`)
  log(
    `floor RSS ${f.rss.toFixed(0)} MB, floor CPU ${f.cpuPct.toFixed(0)} % (load process${K > 1 ? 'es' : ''} ${f.loadPct.toFixed(0)} %)`
  )
  await floorLoad.stop()
  await stopChild(floorProc)
  floor = f
}

if (!values.keep) rmSync(dir, { recursive: true, force: true })
else log(`kept ${dir}`)
const ms2 = (x: number): number => Number(x.toFixed(2))
process.stdout.write(
  `${JSON.stringify({
    agents: N,
    ...(K > 1 ? { client_processes: K } : {}),
    ...(R !== undefined ? { replicas: R } : {}),
    hb_p50_ms: ms2(hb.p50),
    hb_p99_ms: ms2(hb.p99),
    cp_rss_mb: Math.round(rss),
    cp_cpu_pct: Math.round(cpuPct),
    publish_to_delivery_ms: publishToDelivery,
    ...(R !== undefined ? { by_replica: byReplica } : {}),
    ...(failover !== undefined
      ? {
          failover_ms: failover.ms,
          status_ms: failover.statusMs,
          after_failover: {
            hb_p50_ms: ms2(failover.hb.p50),
            hb_p99_ms: ms2(failover.hb.p99),
            errors: failover.hb.errors,
            by_replica: failover.byReplica,
          },
        }
      : {}),
    ...(floor !== undefined
      ? {
          floor: {
            hb_p50_ms: ms2(floor.hb.p50),
            hb_p99_ms: ms2(floor.hb.p99),
            rss_mb: Math.round(floor.rss),
            cpu_pct: Math.round(floor.cpuPct),
          },
          hb_p99_ratio_to_floor: ms2(hb.p99 / floor.hb.p99),
          rss_ratio_to_floor: ms2(rss / floor.rss),
        }
      : {}),
  })}\n`
)
process.exit(0)
