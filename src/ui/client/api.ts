/**
 * The dashboard's view of the operator API (the shared contract in docs/control-plane.md):
 * typed reads that tolerate absent fields (a control plane that does not show something yet
 * simply shows less), and the operator actions with the CSRF header.
 */

/** A JSON object as the API returns it. */
export type Json = Record<string, unknown>

export type Problem = { kind: string; message: string; since: string | null }
export type Host = {
  hostname: string
  channel: string
  currentClosure: string | null
  targetClosure: string | null
  declaredClosure: string | null
  rolloutState: string | null
  converged: boolean
  lastSeenAt: string | null
  lastRolloutId: string | null
  problem: Problem | null
  gate: { gate: string; reason: string; since: string } | null
  pin: string | null
  quarantinedClosure: string | null
  pendingReboot: boolean
  raw: Json
}
export type Halt = {
  /** False for a past halt (the rollout was resumed, superseded or cancelled since). */
  active: boolean
  at: string | null
  host: string | null
  phase: string | null
  probe: string | null
  reason: string | null
}
export type Rollout = {
  id: string
  channel: string
  state: string
  /** Not closed: operator actions on it (resume, cancel, retry, skip) can still apply. */
  open: boolean
  currentWave: number | null
  openedAt: string | null
  hostStates: Record<string, string>
  halt: Halt | null
  outcome: Json | null
}
export type Wave = {
  index: number
  hosts: string[]
  /** The phase of each host in this wave, when the API says (rollout detail). */
  states: Record<string, string>
  state: string | null
  soakEndsAt: string | null
  soakMinutes: number | null
}
export type Edge = { from: string; to: string; reason: string | null }
export type Channel = {
  name: string
  rolloutId: string | null
  rolloutState: string | null
  signedAt: string | null
  freshUntil: string | null
  resignBefore: string | null
  stale: boolean | null
  gates: string[]
  edges: Edge[]
  waves: Wave[]
}
export type Budget = {
  name: string | null
  hosts: number
  inFlight: number
  maxInFlight: number | null
}
export type Status = { channels: Channel[]; hosts: Host[]; rollouts: Rollout[]; budgets: Budget[] }
export type LogEvent = {
  seq: number
  at: string | null
  host: string | null
  /** The rollout the event belongs to (a host's events span several). */
  rollout: string | null
  kind: string
  detail: Json
}

const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {}
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null)
function problemOf(o: Json): Problem | null {
  const p = o['problem']
  if (p !== null) {
    const q = obj(p)
    return {
      kind: str(q['kind']) ?? 'problem',
      message: str(q['message']) ?? '',
      since: str(q['since']),
    }
  }
  const local = str(o['localProblem'])
  return local === null ? null : { kind: 'agent-io-error', message: local, since: null }
}

export function hostOf(v: unknown): Host {
  const o = obj(v)
  const gate = obj(o['gate'])
  const last = obj(o['lastRollout'])
  return {
    hostname: str(o['hostname']) ?? '?',
    channel: str(o['channel']) ?? '',
    currentClosure: str(o['currentClosure']),
    targetClosure: str(o['targetClosure']),
    declaredClosure: str(o['declaredClosure']),
    rolloutState: str(o['rolloutState']),
    converged: o['converged'] === true,
    lastSeenAt: str(o['lastSeenAt']),
    lastRolloutId: str(last['id']),
    problem: problemOf(o),
    gate:
      str(gate['gate']) === null
        ? null
        : {
            gate: String(gate['gate']),
            reason: str(gate['reason']) ?? '',
            since: str(gate['since']) ?? '',
          },
    pin: str(o['pin']),
    quarantinedClosure: str(o['quarantinedClosure']),
    pendingReboot: o['pendingReboot'] === true,
    raw: o,
  }
}

/** The phases of a rollout that is over (core's `isClosed`): nothing acts on it any more. */
const CLOSED = new Set(['Terminal', 'Superseded', 'Pruned', 'Cancelled'])

function haltOf(halt: unknown, outcome: unknown, open: boolean): Halt | null {
  const out = obj(outcome)
  const kept = obj(halt)
  const h = Object.keys(kept).length > 0 ? kept : str(out['kind']) === 'halted' ? out : {}
  if (Object.keys(h).length === 0) return null
  // A closed rollout's halt holds nothing.
  const active = open && (typeof h['active'] === 'boolean' ? h['active'] : true)
  return {
    active,
    at: str(h['at']),
    host: str(h['host']),
    phase: str(h['hostPhase']),
    probe: str(h['probe']),
    reason: str(h['reason']),
  }
}

export function rolloutOf(v: unknown): Rollout {
  const o = obj(v)
  const states: Record<string, string> = {}
  for (const [k, s] of Object.entries(obj(o['hostStates'])))
    if (typeof s === 'string') states[k] = s
  const state = str(o['state']) ?? '?'
  const open = !CLOSED.has(state) && (o['closedAt'] === undefined || o['closedAt'] === null)
  return {
    id: str(o['id']) ?? '?',
    channel: str(o['channel']) ?? '',
    state,
    open,
    currentWave: num(o['currentWave']),
    openedAt: str(o['openedAt']),
    hostStates: states,
    halt: haltOf(o['halt'], o['outcome'], open),
    outcome: o['outcome'] === null || o['outcome'] === undefined ? null : obj(o['outcome']),
  }
}

export function wavesOf(v: unknown): Wave[] {
  return arr(v).map((w, i) => {
    const o = obj(w)
    const states: Record<string, string> = {}
    // A wave's hosts are names, or (rollout detail) `{hostname, state, skipped}`.
    const hosts = arr(o['hosts']).flatMap((h) => {
      if (typeof h === 'string') return [h]
      const x = obj(h)
      const name = str(x['hostname'])
      if (name === null) return []
      const phase = x['skipped'] === true ? 'Skipped' : str(x['state'])
      if (phase !== null) states[name] = phase
      return [name]
    })
    return {
      index: num(o['index']) ?? i,
      hosts,
      states,
      state: str(o['state']),
      soakEndsAt: str(o['soakEndsAt']),
      soakMinutes: num(o['soakMinutes']),
    }
  })
}

const strings = (v: unknown): string[] => arr(v).filter((s): s is string => typeof s === 'string')

export function channelOf(v: unknown): Channel {
  const o = obj(v)
  const signedAt = str(o['signedAt'])
  const window = num(o['freshnessWindowMinutes'])
  // Older control planes give only the signature time and the window.
  const derived =
    signedAt !== null && window !== null
      ? new Date(Date.parse(signedAt) + window * 60_000).toISOString()
      : null
  return {
    name: str(o['name']) ?? '?',
    rolloutId: str(o['rolloutId']),
    rolloutState: str(o['rolloutState']),
    signedAt,
    freshUntil: str(o['freshUntil']) ?? derived,
    resignBefore: str(o['resignBefore']) ?? str(o['freshUntil']) ?? derived,
    stale: typeof o['stale'] === 'boolean' ? o['stale'] : null,
    gates: strings(o['gates']),
    // An edge into this channel is `{gatedBy, reason}`: this channel waits for `gatedBy`.
    edges: arr(o['edges']).flatMap((e) => {
      const x = obj(e)
      const from = str(x['gatedBy'])
      const to = str(o['name'])
      return from === null || to === null ? [] : [{ from, to, reason: str(x['reason']) }]
    }),
    waves: wavesOf(o['waves']),
  }
}

export function statusOf(v: unknown): Status {
  const o = obj(v)
  return {
    channels: arr(o['channels']).map(channelOf),
    hosts: arr(o['hosts']).map(hostOf),
    rollouts: arr(o['rollouts']).map(rolloutOf),
    budgets: arr(o['budgets']).map((b) => {
      const x = obj(b)
      return {
        name: str(x['name']),
        hosts: num(x['hosts']) ?? 0,
        inFlight: num(x['inFlight']) ?? 0,
        maxInFlight: num(x['maxInFlight']),
      }
    }),
  }
}

export function eventOf(v: unknown): LogEvent {
  const o = obj(v)
  // The rollout id comes as a column and again (snake case) in the payload: one field here.
  const { seq, at, ts, host, kind, payload, rolloutId, ...rest } = o
  const { rollout_id, rolloutId: named, ...fields } = obj(payload)
  const detail = { ...rest, ...fields }
  const inner = str(detail['kind'])
  return {
    seq: num(seq) ?? 0,
    at: str(at) ?? str(ts),
    host: str(host),
    rollout: str(rolloutId) ?? str(named) ?? str(rollout_id),
    kind: inner !== null && inner !== kind ? `${String(kind)}: ${inner}` : String(kind ?? '?'),
    detail,
  }
}

/** An answer of the API: the JSON body, or the status and error sentence. */
export type Answer = { ok: true; body: Json } | { ok: false; status: number; error: string }

const PROTOCOL = { 'x-nixfleet-protocol': '1' }

export async function get(path: string): Promise<Answer> {
  try {
    const r = await fetch(path, { headers: { ...PROTOCOL, accept: 'application/json' } })
    const body = obj(await r.json().catch(() => ({})))
    return r.ok
      ? { ok: true, body }
      : { ok: false, status: r.status, error: str(body['error']) ?? r.statusText }
  } catch (e) {
    return { ok: false, status: 0, error: String(e) }
  }
}

/** An operator action: POST with the reason, the CSRF header and the same-origin label. */
export async function act(path: string, body: Json): Promise<Answer> {
  try {
    const r = await fetch(path, {
      method: 'POST',
      headers: { ...PROTOCOL, 'content-type': 'application/json', 'x-nixfleet-csrf': '1' },
      body: JSON.stringify(body),
    })
    const out = obj(await r.json().catch(() => ({})))
    return r.ok
      ? { ok: true, body: out }
      : { ok: false, status: r.status, error: str(out['error']) ?? r.statusText }
  } catch (e) {
    return { ok: false, status: 0, error: String(e) }
  }
}
