/**
 * The load process of `bun run bench:cp`: simulates N agents against a running control plane,
 * each with its own client certificate and one kept-alive TLS connection, cycling
 *   POST /v1/agent/heartbeat → GET /v1/agent/dispatch?wait=H → (on a dispatch) POST DispatchAck
 * so at any moment almost every agent has a long-poll open and the fleet sends N/H heartbeats
 * a second. One connection per agent (not two) because this machine caps a process at 20,000
 * file descriptors and the CP must hold every agent's sockets.
 *
 * HTTP/1.1 is spoken by hand over `node:tls`: the load generator must cost as little CPU as
 * possible, since it shares the machine's two cores with the CP it measures.
 * Protocol with the orchestrator (`cp-clients.ts`, which may run several of these, each with a
 * share of the fleet): a JSON config file as argv[2]; commands on stdin (`measure`, `report`,
 * `stop`); JSON lines on stdout (`connected`, `dispatch`, `hb`). `hb` carries the raw latency
 * samples, so the orchestrator computes percentiles over every process's samples together.
 * With several control planes (replicas), each agent has its own order of their ports and,
 * like a real agent, moves to the next on a connection failure or a 5xx answer, after a backoff
 * with full jitter (base 1 s, doubling, cap 30 s; reset by a heartbeat answered 200).
 * Bounded: the process exits when its stdin closes (the orchestrator is gone) or after
 * `maxSeconds`, and each agent makes at most `maxCycles` heartbeat cycles.
 */
import { readFileSync } from 'node:fs'
import { connect, type TLSSocket } from 'node:tls'
import type { HbReport, LoadConfig } from './cp-clients.ts'

const cfg = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadConfig
const lifetime = setTimeout(() => {
  process.stderr.write(`load process: ${cfg.maxSeconds} s lifetime over, exiting\n`)
  process.exit(3)
}, cfg.maxSeconds * 1000)
lifetime.unref()
// At least one cycle per long-poll, or per second after an error; dispatches add a few.
const maxCycles = Math.ceil(cfg.maxSeconds / Math.min(1, cfg.heartbeatSecs * 0.9)) + 10
const out = (o: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`)
}

type Res = { status: number; body: string }

/** One agent's connection: a minimal HTTP/1.1 client, one request at a time. */
class Conn {
  private buf: Buffer = Buffer.alloc(0)
  private waiting: { resolve: (r: Res) => void; reject: (e: Error) => void } | undefined
  closed = false

  constructor(readonly socket: TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d])
      this.parse()
    })
    const fail = (): void => {
      this.closed = true
      const w = this.waiting
      this.waiting = undefined
      w?.reject(new Error('connection closed'))
    }
    socket.on('close', fail)
    socket.on('error', fail)
  }

  request(method: string, path: string, body?: string): Promise<Res> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('connection closed'))
      this.waiting = { resolve, reject }
      const head =
        `${method} ${path} HTTP/1.1\r\nhost: localhost\r\nx-nixfleet-protocol: 1\r\n` +
        (body !== undefined
          ? `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`
          : '') +
        '\r\n'
      this.socket.write(body !== undefined ? head + body : head)
    })
  }

  private parse(): void {
    const end = this.buf.indexOf('\r\n\r\n')
    if (end < 0 || this.waiting === undefined) return
    const head = this.buf.subarray(0, end).toString('latin1')
    const status = Number(head.slice(9, 12))
    const lower = head.toLowerCase()
    let body = ''
    let consumed = end + 4
    const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower)
    if (cl) {
      const len = Number(cl[1])
      if (this.buf.length < consumed + len) return
      body = this.buf.subarray(consumed, consumed + len).toString('utf8')
      consumed += len
    } else if (lower.includes('\r\ntransfer-encoding: chunked')) {
      const parts: Buffer[] = []
      let off = consumed
      for (;;) {
        const nl = this.buf.indexOf('\r\n', off)
        if (nl < 0) return
        const size = parseInt(this.buf.subarray(off, nl).toString('latin1'), 16)
        if (this.buf.length < nl + 2 + size + 2) return
        if (size === 0) {
          off = nl + 4
          break
        }
        parts.push(this.buf.subarray(nl + 2, nl + 2 + size))
        off = nl + 2 + size + 2
      }
      body = Buffer.concat(parts).toString('utf8')
      consumed = off
    }
    this.buf = this.buf.subarray(consumed)
    const w = this.waiting
    this.waiting = undefined
    w.resolve({ status, body })
  }
}

function open(i: number, port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: cfg.ca,
      cert: cfg.certs[i],
      key: cfg.key,
      servername: 'localhost',
    })
    socket.setNoDelay(true)
    socket.once('secureConnect', () => resolve(new Conn(socket)))
    // `on`, not `once`: a failing handshake can report more than one error (a reset after a
    // timeout), and an error with no listener would end the whole load process.
    socket.on('error', (e: Error) => {
      socket.destroy()
      reject(e)
    })
  })
}

let measuring = false
let stopping = false
const latencies: number[] = []
// The port each sample's heartbeat went to (aligned with `latencies`): with replicas, the
// orchestrator tells the leader's heartbeats from the followers'.
const samplePorts: number[] = []
let errors = 0
let heartbeats = 0
let reconnects = 0
// Heartbeats sent per 100 ms slot while measuring: shows whether the fleet's requests are spread
// out or arrive in waves (which queue behind each other however fast each one is).
// Keyed by wall-clock slot (not `performance.now()`, whose origin is per process) so the
// orchestrator can add up the slots of several load processes.
const slots = new Map<number, number>()

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Agent `i`'s cycles on `conn`, a connection to `cfg.ports[i][at]`. */
async function agent(i: number, conn: Conn, at: number): Promise<void> {
  const host = cfg.hosts[i]!
  let closure = cfg.closures[host]!
  const ports = cfg.ports[i]!
  let failures = 0
  /** With several control planes: drop this one, back off, and go on with the next. */
  const moveOn = async (): Promise<void> => {
    conn.closed = true
    conn.socket.destroy()
    at = (at + 1) % ports.length
    failures++
    await sleep(Math.random() * Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5)))
  }
  // Spread the agents' phases over one heartbeat interval.
  await sleep(Math.random() * cfg.heartbeatSecs * 1000)
  for (let cycle = 0; cycle < maxCycles && !stopping; cycle++) {
    try {
      if (conn.closed) {
        reconnects++
        conn = await open(i, ports[at]!)
      }
      const hb = JSON.stringify({
        hostname: host,
        current_closure: closure,
        at: new Date().toISOString(),
      })
      const t = performance.now()
      if (measuring) {
        const slot = Math.floor((performance.timeOrigin + t) / 100)
        slots.set(slot, (slots.get(slot) ?? 0) + 1)
      }
      const r = await conn.request('POST', '/v1/agent/heartbeat', hb)
      const ms = performance.now() - t
      heartbeats++
      if (r.status !== 200) {
        errors++
        if (r.status >= 500 && ports.length > 1) {
          await moveOn()
          continue
        }
      } else {
        failures = 0
        if (measuring) {
          latencies.push(ms)
          samplePorts.push(ports[at]!)
        }
      }
      const d = await conn.request('GET', `/v1/agent/dispatch?wait=${cfg.heartbeatSecs}`)
      if (d.status === 200) {
        const dispatch = JSON.parse(d.body) as {
          rollout_id: string
          target_closure: string
          wave_index: number
        }
        out({
          type: 'dispatch',
          at: Date.now(),
          host,
          rollout: dispatch.rollout_id,
          wave: dispatch.wave_index,
        })
        const ack = JSON.stringify({
          hostname: host,
          rolloutId: dispatch.rollout_id,
          event: {
            kind: 'DispatchAck',
            seq: 1,
            currentClosureAtDispatch: closure,
            receivedAt: new Date().toISOString(),
          },
        })
        const a = await conn.request('POST', '/v1/agent/events', ack)
        if (a.status !== 204) errors++
        closure = dispatch.target_closure
      } else if (d.status !== 204) {
        errors++
        if (d.status >= 500 && ports.length > 1) await moveOn()
        else await sleep(1000)
      }
    } catch {
      errors++
      if (stopping) return
      if (ports.length > 1) await moveOn()
      else await sleep(1000)
    }
  }
}

const n = cfg.hosts.length
const runs: Promise<void>[] = []
let next = 0
let connectRetries = 0
const started = performance.now()
await Promise.all(
  Array.from({ length: cfg.connectConcurrency }, async () => {
    while (next < n) {
      const i = next++
      const ports = cfg.ports[i]!
      let at = 0
      let conn: Conn | undefined
      for (let attempt = 0; conn === undefined; attempt++) {
        try {
          conn = await open(i, ports[at]!)
        } catch (e) {
          // A server starved of CPU times out or resets some handshakes: back off and retry,
          // with several control planes at the next one (ten tries each).
          if (attempt >= 10 * ports.length) throw e
          connectRetries++
          if (ports.length > 1) at = (at + 1) % ports.length
          await sleep(200 * (attempt + 1))
        }
      }
      runs.push(agent(i, conn, at))
    }
  })
)
out({
  type: 'connected',
  agents: n,
  ms: Math.round(performance.now() - started),
  retries: connectRetries,
})

for await (const line of console) {
  const cmd = line.trim()
  if (cmd === 'measure') {
    latencies.length = 0
    samplePorts.length = 0
    errors = 0
    heartbeats = 0
    reconnects = 0
    slots.clear()
    measuring = true
  } else if (cmd === 'report') {
    measuring = false
    const report: HbReport = {
      type: 'hb',
      // Microsecond resolution is plenty and keeps a 30,000-sample line short.
      samples: latencies.map((ms) => Math.round(ms * 1000) / 1000),
      samplePorts,
      errors,
      heartbeats,
      reconnects,
      slots: [...slots],
    }
    out(report)
  } else if (cmd === 'stop') {
    stopping = true
    process.exit(0)
  }
}
// stdin closed: the orchestrator is gone, and nobody would stop these agents.
process.exit(0)
