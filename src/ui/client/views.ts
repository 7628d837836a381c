/**
 * The dashboard's pages as functions of what the API returned: fleet overview, rollout, host,
 * quarantines and audit trail. Every state is shown by a glyph and a word as well as a color;
 * action buttons exist only for operators (`ctx.canAct`).
 */
import {
  type Channel,
  type Host,
  type Json,
  type LogEvent,
  type Rollout,
  type Status,
  type Wave,
  eventOf,
  get,
  rolloutOf,
  wavesOf,
} from './api.ts'
import { now } from './clock.ts'
import { type Child, h } from './dom.ts'
import { ago, clock, details, duration, look, short } from './format.ts'

/** Beyond this many hosts a wave shows counts per state instead of one tile per host. */
export const TILE_LIMIT = 300
const PAGE = 50

/** What a page needs from the shell. */
export type Ctx = {
  readonly status: Status
  readonly canAct: boolean
  /** Opens the confirmation dialog of an action; `then` runs after it succeeded. */
  readonly confirm: (title: string, path: string, body: Json, then?: () => void) => void
  /** Re-renders the current page (after an asynchronous read finished). */
  readonly refresh: () => void
}

const button = (ctx: Ctx, label: string, path: string, body: Json, aria: string): Child =>
  ctx.canAct
    ? h(
        'button',
        {
          type: 'button',
          class: 'act',
          'aria-label': aria,
          'data-key': `act:${aria}`,
          onclick: () => ctx.confirm(aria, path, body),
        },
        label
      )
    : null

const badge = (phase: string | null): HTMLElement => {
  const l = look(phase)
  return h(
    'span',
    { class: `badge ${l.cls}` },
    h('span', { 'aria-hidden': 'true' }, l.glyph),
    ' ',
    l.word
  )
}

const rolloutBadge = (state: string | null): HTMLElement => {
  const s = (state ?? 'none').toLowerCase()
  const cls = /halt|fail|revert/.test(s)
    ? 'bad'
    : /terminal|converged/.test(s)
      ? 'ok'
      : /cancel|supersed|prun/.test(s)
        ? 'idle'
        : 'busy'
  return h('span', { class: `badge ${cls}` }, state ?? 'no rollout')
}

/** The phase of `host` in `channel`'s current rollout (null when the host has none). */
function phaseOf(host: Host, rollout: Rollout | undefined): string | null {
  const p = rollout?.hostStates[host.hostname] ?? host.rolloutState
  return p ?? (host.converged ? 'Converged' : null)
}

function tile(host: Host, phase: string | null): HTMLElement {
  const l = look(phase)
  const problem =
    host.problem === null ? '' : `, problem: ${host.problem.message || host.problem.kind}`
  return h(
    'a',
    {
      class: `tile ${l.cls}${host.problem === null ? '' : ' problem'}`,
      href: `#/host/${encodeURIComponent(host.hostname)}`,
      'data-host': host.hostname,
      'data-state': phase ?? 'none',
      'data-key': `tile:${host.hostname}`,
      'aria-label': `${host.hostname}: ${l.word}${problem}`,
      title: `${host.hostname}: ${l.word}${problem}`,
    },
    h('span', { class: 'glyph', 'aria-hidden': 'true' }, host.problem === null ? l.glyph : '!'),
    h('span', { class: 'name' }, host.hostname)
  )
}

/** One wave: a row of tiles, or counts per state beyond TILE_LIMIT hosts. */
function waveRow(
  label: string,
  hosts: Host[],
  phaseFor: (h: Host) => string | null,
  extra: Child
): HTMLElement {
  let body: HTMLElement
  if (hosts.length > TILE_LIMIT) {
    const counts = new Map<string, number>()
    for (const host of hosts) {
      const p = phaseFor(host) ?? 'none'
      counts.set(p, (counts.get(p) ?? 0) + 1)
    }
    body = h(
      'ul',
      { class: 'counts', 'aria-label': `${label}: ${hosts.length} hosts` },
      [...counts].sort().map(([p, n]) => {
        const l = look(p === 'none' ? null : p)
        return h(
          'li',
          { class: `badge ${l.cls}`, 'data-state': p, 'data-count': n },
          h('span', { 'aria-hidden': 'true' }, l.glyph),
          ` ${n} ${l.word}`
        )
      })
    )
  } else {
    body = h(
      'div',
      { class: 'tiles', role: 'list', 'aria-label': label },
      hosts.map((x) => {
        const t = tile(x, phaseFor(x))
        t.setAttribute('role', 'listitem')
        return t
      })
    )
  }
  return h(
    'div',
    { class: 'wave', 'data-wave': label },
    h('div', { class: 'wave-label' }, h('strong', {}, label), extra),
    body
  )
}

function soakText(w: Wave): string | null {
  if (w.soakEndsAt !== null) {
    const left = Date.parse(w.soakEndsAt) - now()
    return left > 0 ? `soak ends in ${duration(left)}` : 'soak done'
  }
  return w.soakMinutes === null ? null : `soak ${w.soakMinutes} min`
}

/** The waves of a channel: from the rollout detail, else the channel, else one row of its hosts. */
function wavesFor(channel: Channel | undefined, hosts: Host[], detailWaves: Wave[] = []): Wave[] {
  if (detailWaves.length > 0) return detailWaves
  if (channel !== undefined && channel.waves.length > 0) return channel.waves
  return [
    {
      index: 0,
      hosts: hosts.map((x) => x.hostname),
      states: {},
      state: null,
      soakEndsAt: null,
      soakMinutes: null,
    },
  ]
}

function freshness(c: Channel): Child {
  if (c.resignBefore === null) return null
  const stale = c.stale ?? Date.parse(c.resignBefore) < now()
  return h(
    'span',
    { class: stale ? 'fresh stale' : 'fresh' },
    stale ? h('span', { 'aria-hidden': 'true' }, '⚠ ') : null,
    stale
      ? `stale since ${clock(c.resignBefore)} — re-sign now`
      : `re-sign before ${clock(c.resignBefore)}`
  )
}

function haltBox(r: Rollout, probeLine: string | null): Child {
  const halt = r.halt
  if (halt === null) return null
  // The CP's own reason when it gives one, else what the halted host's events say.
  const why =
    halt.reason === null
      ? probeLine
      : halt.probe === null
        ? halt.reason
        : `probe ${halt.probe} failed: ${halt.reason}`
  return h(
    'div',
    { class: 'halt', role: 'alert', 'data-halt': r.id },
    h('strong', {}, h('span', { 'aria-hidden': 'true' }, '■ '), 'Halted'),
    halt.at === null ? null : ` at ${clock(halt.at)}`,
    halt.host === null
      ? null
      : [': host ', h('a', { href: `#/host/${encodeURIComponent(halt.host)}` }, halt.host)],
    halt.phase === null ? null : ` ${look(halt.phase).word}`,
    why === null ? null : h('p', { class: 'reason probe-reason' }, why)
  )
}

/** The fleet overview. */
export function overview(ctx: Ctx, only?: string): Child {
  const { status } = ctx
  const byChannel = new Map<string, Host[]>()
  for (const host of status.hosts)
    (byChannel.get(host.channel) ?? byChannel.set(host.channel, []).get(host.channel)!).push(host)
  const names = [...new Set([...status.channels.map((c) => c.name), ...byChannel.keys()])]
    .filter((n) => only === undefined || n === only)
    .sort()
  const edges = new Map<string, string>()
  for (const c of status.channels)
    for (const e of c.edges) edges.set(`${e.from}→${e.to}`, e.reason ?? '')
  const problems = status.hosts.filter((x) => x.problem !== null)
  return [
    h('h1', {}, only === undefined ? 'Fleet' : `Channel ${only}`),
    h(
      'p',
      { class: 'summary' },
      `${status.hosts.length} hosts in ${names.length} channels · `,
      `${status.hosts.filter((x) => x.converged).length} converged · `,
      `${problems.length} with a problem`
    ),
    status.budgets.length === 0
      ? null
      : h(
          'section',
          { 'aria-labelledby': 'budgets-h' },
          h('h2', { id: 'budgets-h' }, 'Disruption budgets'),
          h(
            'ul',
            { class: 'plain' },
            status.budgets.map((b) =>
              h(
                'li',
                { 'data-budget': '' },
                `${b.name ?? `${b.hosts} hosts`}: ${b.inFlight} / ${b.maxInFlight ?? '∞'} in flight`
              )
            )
          )
        ),
    edges.size === 0
      ? null
      : h(
          'section',
          { 'aria-labelledby': 'edges-h' },
          h('h2', { id: 'edges-h' }, 'Channel order'),
          h(
            'ul',
            { class: 'plain edges' },
            [...edges].map(([k, reason]) => {
              const [from, to] = k.split('→')
              return h(
                'li',
                {},
                h('a', { href: `#/channel/${from}` }, from),
                h('span', { 'aria-label': 'before' }, ' → '),
                h('a', { href: `#/channel/${to}` }, to),
                reason ? ` (${reason})` : null
              )
            })
          )
        ),
    names.map((name) => {
      const c = status.channels.find((x) => x.name === name)
      const hosts = byChannel.get(name) ?? []
      const rid = c?.rolloutId ?? hosts.find((x) => x.lastRolloutId !== null)?.lastRolloutId ?? null
      const rollout = status.rollouts.find((r) => r.id === rid)
      const byName = new Map(hosts.map((x) => [x.hostname, x]))
      return h(
        'section',
        {
          class: 'channel',
          id: `channel-${name}`,
          'data-channel': name,
          'aria-labelledby': `ch-${name}`,
        },
        h(
          'header',
          { class: 'channel-head' },
          h('h2', { id: `ch-${name}` }, name),
          rolloutBadge(rollout?.state ?? c?.rolloutState ?? null),
          rid === null
            ? null
            : h(
                'a',
                { href: `#/rollout/${encodeURIComponent(rid)}`, class: 'rollout-link' },
                `rollout ${short(rid)}`
              ),
          c === undefined ? null : freshness(c)
        ),
        c === undefined || c.gates.length === 0
          ? null
          : h(
              'ul',
              { class: 'gates' },
              c.gates.map((g) => h('li', {}, g))
            ),
        rollout === undefined ? null : haltBox(rollout, null),
        wavesFor(c, hosts).map((w) => {
          const members = w.hosts.flatMap((n) => byName.get(n) ?? [])
          const current =
            rollout !== undefined && rollout.currentWave === w.index
              ? h('span', { class: 'current' }, ' ◀ current')
              : null
          return waveRow(
            `wave ${w.index}`,
            members,
            (x) => w.states[x.hostname] ?? phaseOf(x, rollout),
            current
          )
        })
      )
    }),
    problems.length === 0
      ? null
      : h(
          'section',
          { 'aria-labelledby': 'problems-h' },
          h('h2', { id: 'problems-h' }, 'Problems'),
          h(
            'ul',
            { class: 'plain' },
            problems
              .slice(0, 100)
              .map((x) =>
                h(
                  'li',
                  {},
                  h('a', { href: `#/host/${encodeURIComponent(x.hostname)}` }, x.hostname),
                  `: ${x.problem!.kind} — ${x.problem!.message}`
                )
              )
          )
        ),
  ]
}

/** A page's asynchronous data: fetched once per key, re-rendered when it arrives. */
const cache = new Map<string, { at: number; value: unknown }>()
function load<T>(
  ctx: Ctx,
  key: string,
  maxAgeMs: number,
  fetcher: () => Promise<T>
): T | undefined {
  const hit = cache.get(key)
  if (hit === undefined || now() - hit.at > maxAgeMs) {
    // Mark it fresh now so concurrent renders do not fetch it again.
    cache.set(key, { at: now(), value: hit?.value })
    fetcher().then((value) => {
      cache.set(key, { at: now(), value })
      ctx.refresh()
    })
  }
  return hit?.value as T | undefined
}

/** Forgets every fetched page (after an action, so the next render reads again). */
export function invalidate(): void {
  cache.clear()
}

// The event log's row kinds (the filter matches one exactly).
const EVENT_KINDS = [
  'agent_event',
  'effect',
  'gate_decision',
  'operator_action',
  'plan_action',
  'rollout_event',
]

/** The filters and page of the event log on the rollout page. */
export const logFilter = { host: '', kind: '', after: 0, trail: [] as number[] }

async function eventsPage(
  id: string,
  f: typeof logFilter
): Promise<{ events: LogEvent[]; next: number | null; error: string | null }> {
  const q = new URLSearchParams({ limit: String(PAGE) })
  if (f.after > 0) q.set('after', String(f.after))
  if (f.host) q.set('host', f.host)
  if (f.kind) q.set('kind', f.kind)
  const r = await get(`/v1/rollouts/${encodeURIComponent(id)}/events?${q}`)
  if (!r.ok) return { events: [], next: null, error: r.error }
  // Filter again here: a control plane that ignores a parameter still shows the right page.
  const all = (Array.isArray(r.body['events']) ? r.body['events'] : []).map(eventOf)
  const kept = all.filter(
    (e) =>
      e.seq > f.after &&
      (!f.host || e.host === f.host) &&
      (!f.kind || e.kind.toLowerCase().includes(f.kind.toLowerCase()))
  )
  const page = kept.slice(0, PAGE)
  const next =
    typeof r.body['next'] === 'number'
      ? r.body['next']
      : kept.length > PAGE
        ? page[page.length - 1]!.seq
        : null
  return { events: page, next, error: null }
}

/** The probe failure behind a halt, from the halted host's events. */
async function probeFailure(id: string, host: string): Promise<string | null> {
  const r = await get(
    `/v1/rollouts/${encodeURIComponent(id)}/events?host=${encodeURIComponent(host)}&order=desc&limit=1000`
  )
  if (!r.ok) return null
  const evs = (Array.isArray(r.body['events']) ? r.body['events'] : [])
    .map(eventOf)
    .filter((e) => e.host === host)
  evs.sort((a, b) => b.seq - a.seq)
  const probe = evs.find(
    (e) => e.kind.endsWith('ProbeResult') && typeof e.detail['failureReason'] === 'string'
  )
  if (probe !== undefined)
    return `probe ${String(probe.detail['probeName'])} failed: ${String(probe.detail['failureReason'])}`
  const failed = evs.find((e) => e.kind.endsWith(': Failed'))
  if (failed !== undefined && Array.isArray(failed.detail['failingProbes']))
    return `failing probes: ${(failed.detail['failingProbes'] as unknown[]).join(', ')}`
  return null
}

function eventTable(evs: LogEvent[], caption: string, shown: string | null = null): HTMLElement {
  return tablePage(
    caption,
    ['seq', 'time', 'host', 'kind', 'details'],
    evs.map((e) => [
      e.seq,
      clock(e.at),
      e.host ?? '',
      e.kind,
      h('td', { class: 'detail' }, details(e.detail, shown)),
    ])
  )
}

/** The rollout page. */
export function rolloutPage(ctx: Ctx, id: string): Child {
  const detailRaw = load(ctx, `rollout:${id}`, 2_000, () =>
    get(`/v1/rollouts/${encodeURIComponent(id)}`)
  )
  // The contract's detail has a state; an older CP answers the signed manifest here instead.
  const detail =
    detailRaw !== undefined && detailRaw.ok && typeof detailRaw.body['state'] === 'string'
      ? detailRaw.body
      : undefined
  const live = ctx.status.rollouts.find((r) => r.id === id)
  const r = live ?? (detail === undefined ? undefined : rolloutOf(detail))
  if (r === undefined)
    return [
      h('h1', {}, `Rollout ${id}`),
      h(
        'p',
        {},
        detailRaw === undefined
          ? 'Loading…'
          : 'This rollout is not open (it may have finished or been superseded).'
      ),
    ]
  const channel = ctx.status.channels.find((c) => c.name === r.channel)
  const hosts = ctx.status.hosts.filter((x) => x.channel === r.channel)
  const byName = new Map(hosts.map((x) => [x.hostname, x]))
  const waves = wavesFor(channel, hosts, detail === undefined ? [] : wavesOf(detail['waves']))
  const gates =
    detail !== undefined && Array.isArray(detail['gates'])
      ? (detail['gates'] as unknown[]).map(String)
      : (channel?.gates ?? [])
  const probeLine =
    r.halt?.host && r.halt.reason === null
      ? (load(ctx, `probe:${id}:${r.halt.host}:${r.halt.at}`, 60_000, () =>
          probeFailure(id, r.halt!.host!)
        ) ?? null)
      : null
  const f = logFilter
  const log = load(ctx, `events:${id}:${f.host}:${f.kind}:${f.after}`, 3_000, () =>
    eventsPage(id, f)
  )
  const setFilter = (k: 'host' | 'kind') => (e: Event) => {
    f[k] = (e.target as HTMLInputElement).value.trim()
    f.after = 0
    f.trail = []
    ctx.refresh()
  }
  const halted = r.halt !== null
  return [
    h('h1', {}, 'Rollout ', h('code', {}, r.id)),
    h(
      'p',
      { class: 'summary' },
      'channel ',
      h('a', { href: `#/channel/${r.channel}` }, r.channel),
      ' · ',
      rolloutBadge(r.state),
      r.openedAt === null ? null : ` · opened ${clock(r.openedAt)}`,
      r.currentWave === null ? null : ` · current wave ${r.currentWave}`
    ),
    haltBox(r, probeLine),
    halted
      ? h(
          'div',
          { class: 'actions' },
          button(
            ctx,
            'Resume…',
            `/v1/operator/rollouts/${encodeURIComponent(r.id)}/resume`,
            {},
            `Resume rollout ${r.id}`
          ),
          button(
            ctx,
            'Cancel…',
            `/v1/operator/rollouts/${encodeURIComponent(r.id)}/cancel`,
            {},
            `Cancel rollout ${r.id}`
          )
        )
      : null,
    gates.length === 0
      ? null
      : h(
          'section',
          { 'aria-labelledby': 'gates-h' },
          h('h2', { id: 'gates-h' }, 'Gates'),
          h(
            'ul',
            { class: 'gates' },
            gates.map((g) => h('li', {}, g))
          )
        ),
    h(
      'section',
      { 'aria-labelledby': 'waves-h' },
      h('h2', { id: 'waves-h' }, 'Waves'),
      h(
        'ol',
        { class: 'timeline' },
        waves.map((w) => {
          const members = w.hosts.flatMap((n) => byName.get(n) ?? [])
          const cur = r.currentWave === w.index
          const soak = soakText(w)
          return h(
            'li',
            { class: cur ? 'current' : '', 'aria-current': cur ? 'step' : false },
            waveRow(`wave ${w.index}`, members, (x) => w.states[x.hostname] ?? phaseOf(x, r), [
              w.state === null ? (cur ? ' · current' : null) : ` · ${w.state}`,
              soak === null ? null : ` · ${soak}`,
            ])
          )
        })
      )
    ),
    h(
      'section',
      { 'aria-labelledby': 'log-h' },
      h('h2', { id: 'log-h' }, 'Event log'),
      h(
        'div',
        { class: 'filters' },
        h(
          'label',
          {},
          'host ',
          h('input', {
            type: 'search',
            value: f.host,
            'data-key': 'f-host',
            onchange: setFilter('host'),
          })
        ),
        h(
          'label',
          {},
          'kind ',
          h('input', {
            type: 'search',
            value: f.kind,
            list: 'kinds',
            placeholder: 'e.g. operator_action',
            'data-key': 'f-kind',
            onchange: setFilter('kind'),
          }),
          h(
            'datalist',
            { id: 'kinds' },
            EVENT_KINDS.map((k) => h('option', { value: k }))
          )
        )
      ),
      log === undefined
        ? h('p', {}, 'Loading…')
        : log.error !== null
          ? h('p', { role: 'alert' }, `Could not read the event log: ${log.error}`)
          : [
              eventTable(log.events, `events after #${f.after}`, r.id),
              h(
                'div',
                { class: 'pager' },
                h(
                  'button',
                  {
                    type: 'button',
                    'data-key': 'pg-first',
                    disabled: f.after === 0,
                    onclick: () => {
                      f.after = 0
                      f.trail = []
                      ctx.refresh()
                    },
                  },
                  '« First'
                ),
                h(
                  'button',
                  {
                    type: 'button',
                    'data-key': 'pg-prev',
                    disabled: f.trail.length === 0,
                    onclick: () => {
                      f.after = f.trail.pop() ?? 0
                      ctx.refresh()
                    },
                  },
                  '◀ Previous'
                ),
                h(
                  'button',
                  {
                    type: 'button',
                    'data-key': 'pg-next',
                    disabled: log.next === null,
                    onclick: () => {
                      if (log.next !== null) {
                        f.trail.push(f.after)
                        f.after = log.next
                        ctx.refresh()
                      }
                    },
                  },
                  'Next ▶'
                )
              ),
            ]
    ),
  ]
}

/** A titled list of `items` (nothing when there are none). */
function listSection(
  title: string,
  tag: 'ul' | 'ol',
  items: Json[],
  item: (x: Json) => Child
): Child {
  if (items.length === 0) return null
  return h(
    'section',
    {},
    h('h2', {}, title),
    h(
      tag,
      { class: 'plain' },
      items.map((x) => h('li', {}, item(x)))
    )
  )
}

/** A closure, shortened, with the whole of it in the title. */
const closureCode = (c: string | null): HTMLElement => h('code', { title: c ?? '' }, short(c))

const row = (k: string, v: Child): HTMLElement =>
  h('div', { class: 'kv' }, h('dt', {}, k), h('dd', {}, v))

/** The host page. */
export function hostPage(ctx: Ctx, name: string): Child {
  const detailRaw = load(ctx, `host:${name}`, 3_000, () =>
    get(`/v1/hosts/${encodeURIComponent(name)}`)
  )
  const detail = detailRaw !== undefined && detailRaw.ok ? detailRaw.body : undefined
  const listed = ctx.status.hosts.find((x) => x.hostname === name)
  if (listed === undefined && detail === undefined)
    return [
      h('h1', {}, name),
      h('p', {}, detailRaw === undefined ? 'Loading…' : 'No such host in the fleet.'),
    ]
  const host = listed!
  const raw: Json = { ...host.raw, ...(detail ?? {}) }
  const cert = raw['certificate'] as Json | null | undefined
  const enrol = raw['enrolment'] as Json | null | undefined
  const list = (k: string): Json[] => (Array.isArray(raw[k]) ? (raw[k] as Json[]) : [])
  const rollout = ctx.status.rollouts.find((r) => r.id === host.lastRolloutId)
  const enc = encodeURIComponent(name)
  return [
    h('h1', {}, 'Host ', h('code', {}, name)),
    h(
      'p',
      { class: 'summary' },
      badge(phaseOf(host, rollout)),
      ' · channel ',
      h('a', { href: `#/channel/${host.channel}` }, host.channel),
      ` · last seen ${ago(host.lastSeenAt)}`
    ),
    host.problem === null
      ? null
      : h(
          'div',
          { class: 'halt', role: 'alert' },
          h('strong', {}, 'Problem: '),
          `${host.problem.kind} — ${host.problem.message}`,
          host.problem.since === null ? null : ` (since ${clock(host.problem.since)})`
        ),
    h(
      'div',
      { class: 'actions' },
      button(ctx, 'Retry…', `/v1/operator/hosts/${enc}/retry`, {}, `Retry host ${name}`),
      button(ctx, 'Skip…', `/v1/operator/hosts/${enc}/skip`, {}, `Skip host ${name}`),
      cert?.['denied'] === true
        ? button(ctx, 'Allow…', `/v1/operator/hosts/${enc}/allow`, {}, `Allow host ${name}`)
        : button(ctx, 'Deny…', `/v1/operator/hosts/${enc}/deny`, {}, `Deny host ${name}`)
    ),
    h(
      'dl',
      { class: 'facts' },
      row('current closure', closureCode(host.currentClosure)),
      row('target closure', closureCode(host.targetClosure)),
      row('declared closure', closureCode(host.declaredClosure)),
      row(
        'rollout',
        host.lastRolloutId === null
          ? '—'
          : h(
              'a',
              { href: `#/rollout/${encodeURIComponent(host.lastRolloutId)}` },
              short(host.lastRolloutId)
            )
      ),
      host.gate === null ? null : row('held by gate', `${host.gate.gate}: ${host.gate.reason}`),
      host.pin === null ? null : row('pinned to', host.pin),
      host.quarantinedClosure === null ? null : row('quarantined', short(host.quarantinedClosure)),
      host.pendingReboot ? row('reboot', 'pending') : null,
      enrol == null
        ? null
        : row(
            'enrolment',
            `${String(enrol['state'])}${enrol['at'] ? ` ${clock(String(enrol['at']))}` : ''}${enrol['reason'] ? ` — ${String(enrol['reason'])}` : ''}`
          ),
      cert == null
        ? null
        : row(
            'certificate',
            `serial ${String(cert['serial'])}, valid until ${clock(String(cert['notAfter']))}${cert['revoked'] ? ', revoked' : ''}${cert['denied'] ? ', denied' : ''}`
          )
    ),
    listSection('Probes', 'ul', list('probes'), (p) => [
      h('span', { class: `badge ${p['ok'] ? 'ok' : 'bad'}` }, p['ok'] ? '✓ ok' : '✗ failing'),
      ` ${String(p['name'])} (${clock(String(p['at'] ?? ''))})`,
      p['message'] ? ` — ${String(p['message'])}` : null,
    ]),
    listSection('Closure history', 'ol', list('closureHistory'), (c) => [
      `${clock(String(c['at'] ?? ''))} `,
      closureCode(String(c['closure'])),
      c['rolloutId'] ? ` (rollout ${short(String(c['rolloutId']))})` : null,
    ]),
    list('events').length === 0 ? null : eventTable(list('events').map(eventOf), 'latest events'),
  ]
}

function tablePage(caption: string, cols: string[], rows: Child[][]): HTMLElement {
  return h(
    'table',
    { class: 'log' },
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        cols.map((c) => h('th', { scope: 'col' }, c))
      )
    ),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h(
          'tr',
          {},
          r.map((c) => (c instanceof HTMLTableCellElement ? c : h('td', {}, c)))
        )
      )
    )
  )
}

/** The quarantines page. */
export function quarantinesPage(ctx: Ctx): Child {
  const r = load(ctx, 'quarantines', 3_000, () => get('/v1/operator/quarantines'))
  if (r === undefined) return [h('h1', {}, 'Quarantines'), h('p', {}, 'Loading…')]
  if (!r.ok) return [h('h1', {}, 'Quarantines'), h('p', { role: 'alert' }, r.error)]
  const qs = (Array.isArray(r.body['quarantines']) ? r.body['quarantines'] : []) as Json[]
  return [
    h('h1', {}, 'Quarantines'),
    qs.length === 0
      ? h('p', {}, 'No closure is quarantined.')
      : tablePage(
          'closures refused by their channel',
          ['channel', 'closure', 'since', 'host', 'reason', ''],
          qs.map((q) => [
            String(q['channel']),
            closureCode(String(q['closure'])),
            clock(String(q['at'] ?? q['quarantinedAt'] ?? '')),
            q['host'] ? String(q['host']) : '',
            q['reason'] ? String(q['reason']) : '',
            button(
              ctx,
              'Clear…',
              '/v1/operator/quarantines/clear',
              { channel: q['channel'], closure: q['closure'] },
              `Clear quarantine of ${short(String(q['closure']))} in ${String(q['channel'])}`
            ),
          ])
        ),
  ]
}

/** The audit trail, newest first, paged by `after`/`next`. */
export const auditFilter = { after: '', trail: [] as string[] }
export function auditPage(ctx: Ctx): Child {
  const a = auditFilter
  const r = load(ctx, `audit:${a.after}`, 3_000, () =>
    get(`/v1/operator/audit?limit=${PAGE}${a.after ? `&after=${encodeURIComponent(a.after)}` : ''}`)
  )
  if (r === undefined) return [h('h1', {}, 'Audit trail'), h('p', {}, 'Loading…')]
  if (!r.ok)
    return [
      h('h1', {}, 'Audit trail'),
      h(
        'p',
        { role: 'alert' },
        r.status === 404
          ? 'This control plane does not offer the audit trail; operator actions are in each rollout’s event log.'
          : r.error
      ),
    ]
  const actions = (Array.isArray(r.body['actions']) ? r.body['actions'] : []) as Json[]
  const next =
    r.body['next'] === null || r.body['next'] === undefined ? null : String(r.body['next'])
  return [
    h('h1', {}, 'Audit trail'),
    tablePage(
      'operator actions',
      ['time', 'operator', 'action', 'target', 'reason'],
      actions.map((x) => [
        clock(String(x['at'])),
        String(x['operator']),
        String(x['action']),
        String(x['target']),
        String(x['reason']),
      ])
    ),
    h(
      'div',
      { class: 'pager' },
      h(
        'button',
        {
          type: 'button',
          'data-key': 'au-prev',
          disabled: a.trail.length === 0,
          onclick: () => {
            a.after = a.trail.pop() ?? ''
            ctx.refresh()
          },
        },
        '◀ Newer'
      ),
      h(
        'button',
        {
          type: 'button',
          'data-key': 'au-next',
          disabled: next === null,
          onclick: () => {
            if (next !== null) {
              a.trail.push(a.after)
              a.after = next
              ctx.refresh()
            }
          },
        },
        'Older ▶'
      )
    ),
  ]
}
