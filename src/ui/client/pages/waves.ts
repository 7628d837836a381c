/**
 * The rollout pieces both the fleet overview and the rollout page draw: a channel's waves as
 * rows of host tiles (or counts per state when a wave is too large to draw host by host), and
 * the box explaining a halt. Every state is shown by a glyph and a word as well as a color.
 */
import { type Channel, type Host, type Rollout, type Wave } from '../api.ts'
import { now } from '../clock.ts'
import { type Child, h } from '../dom.ts'
import { clock, duration, look, plural } from '../format.ts'

/** Beyond this many hosts a wave shows counts per state instead of one tile per host. */
export const TILE_LIMIT = 300

/** The phase of `host` in `channel`'s current rollout (null when the host has none). */
export function phaseOf(host: Host, rollout: Rollout | undefined): string | null {
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
export function waveRow(
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
      { class: 'counts', 'aria-label': `${label}: ${plural(hosts.length, 'host')}` },
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

export function soakText(w: Wave): string | null {
  if (w.soakEndsAt !== null) {
    const left = Date.parse(w.soakEndsAt) - now()
    return left > 0 ? `soak ends in ${duration(left)}` : 'soak done'
  }
  return w.soakMinutes === null ? null : `soak ${w.soakMinutes} min`
}

/** The waves of a channel: from the rollout detail, else the channel, else one row of its hosts. */
export function wavesFor(
  channel: Channel | undefined,
  hosts: Host[],
  detailWaves: Wave[] = []
): Wave[] {
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

/**
 * The box explaining a halt: red while it holds the rollout, neutral for a past halt (resumed,
 * superseded or cancelled since) so a closed rollout does not read as one waiting on an operator.
 */
export function haltBox(r: Rollout, probeLine: string | null): Child {
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
    halt.active
      ? { class: 'halt', role: 'alert', 'data-halt': r.id }
      : { class: 'halt past', 'data-halt-past': r.id },
    halt.active
      ? h('strong', {}, h('span', { 'aria-hidden': 'true' }, '■ '), 'Halted')
      : h('strong', {}, 'Halted'),
    halt.at === null ? null : ` at ${clock(halt.at, { seconds: true })}`,
    halt.host === null
      ? null
      : [': host ', h('a', { href: `#/host/${encodeURIComponent(halt.host)}` }, halt.host)],
    halt.phase === null ? null : ` ${look(halt.phase).word}`,
    halt.active ? null : ' — no longer holding it',
    why === null ? null : h('p', { class: 'reason probe-reason' }, why)
  )
}
