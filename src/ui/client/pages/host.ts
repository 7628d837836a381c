/**
 * The host page: state and problem, the operator actions on a host (retry, skip, allow or
 * deny), its closures, enrolment and certificate, probes, closure history and latest events.
 */
import { type Json, eventOf, get } from '../api.ts'
import { type Child, h } from '../dom.ts'
import { ago, clock } from '../format.ts'
import { type Ctx, badge, button, closureCode, eventTable, load, rolloutLink } from './shared.ts'
import { phaseOf } from './waves.ts'

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
  // Retry and skip act on the channel's open rollout; on a closed one the CP refuses them.
  const current = ctx.status.rollouts.find(
    (r) => r.open && r.channel === host.channel && r.hostStates[name] !== undefined
  )
  const inRollout = current === undefined ? null : { rolloutId: current.id }
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
      inRollout === null
        ? null
        : [
            button(
              ctx,
              'Retry…',
              `/v1/operator/hosts/${enc}/retry`,
              inRollout,
              `Retry host ${name}`
            ),
            button(ctx, 'Skip…', `/v1/operator/hosts/${enc}/skip`, inRollout, `Skip host ${name}`),
          ],
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
      row('rollout', host.lastRolloutId === null ? '—' : rolloutLink(host.lastRolloutId)),
      host.gate === null ? null : row('held by gate', `${host.gate.gate}: ${host.gate.reason}`),
      host.pin === null ? null : row('pinned to', host.pin),
      host.quarantinedClosure === null
        ? null
        : row('quarantined', closureCode(host.quarantinedClosure)),
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
      `${clock(String(c['at'] ?? ''), { seconds: true })} `,
      closureCode(String(c['closure'])),
      c['rolloutId'] ? [' (rollout ', rolloutLink(String(c['rolloutId'])), ')'] : null,
    ]),
    list('events').length === 0
      ? null
      : eventTable(list('events').map(eventOf), 'latest events', name, 'rollout'),
  ]
}
