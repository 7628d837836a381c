/**
 * The fleet overview (and one channel of it): budgets, channel order, each channel's rollout
 * with its waves of host tiles, and the hosts that have a problem.
 */
import { type Channel, type Host, type Json } from '../api.ts'
import { now } from '../clock.ts'
import { type Child, h } from '../dom.ts'
import { clock, plural, shortRollout } from '../format.ts'
import { quarantinesOf } from './lists.ts'
import { type Ctx, closureCode, rolloutBadge } from './shared.ts'
import { haltBox, phaseOf, waveRow, wavesFor } from './waves.ts'

function freshness(c: Channel): Child {
  if (c.resignBefore === null) return null
  const stale = c.stale ?? Date.parse(c.resignBefore) < now()
  return h(
    'span',
    { class: stale ? 'fresh stale' : 'fresh' },
    stale ? h('span', { 'aria-hidden': 'true' }, '⚠ ') : null,
    stale
      ? `stale since ${clock(c.resignBefore, { zone: true })} — re-sign now`
      : `re-sign before ${clock(c.resignBefore, { zone: true })}`
  )
}

/** A channel's quarantined closures: releases it refuses until an operator clears them. */
function quarantineList(qs: Json[]): Child {
  if (qs.length === 0) return null
  return h(
    'div',
    { class: 'quarantined', 'data-quarantined': String(qs[0]!['channel']) },
    h('a', { href: '#/quarantines' }, plural(qs.length, 'quarantined closure')),
    ':',
    h(
      'ul',
      { class: 'plain' },
      qs.map((q) =>
        h(
          'li',
          {},
          closureCode(String(q['closure'])),
          q['reason'] ? ` — ${String(q['reason'])}` : null,
          q['at'] ? ` (since ${clock(String(q['at']))})` : null
        )
      )
    )
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
    for (const e of c.edges)
      if (only === undefined || e.from === only || e.to === only)
        edges.set(`${e.from}→${e.to}`, e.reason ?? '')
  // A channel's page counts that channel's hosts, not the fleet's.
  const scoped = only === undefined ? status.hosts : (byChannel.get(only) ?? [])
  const problems = scoped.filter((x) => x.problem !== null)
  const quarantined = quarantinesOf(ctx)
  return [
    h('h1', {}, only === undefined ? 'Fleet' : `Channel ${only}`),
    h(
      'p',
      { class: 'summary' },
      plural(scoped.length, 'host'),
      only === undefined ? ` in ${plural(names.length, 'channel')}` : null,
      ` · ${scoped.filter((x) => x.converged).length} converged · `,
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
                `${b.name ?? plural(b.hosts, 'host')}: ${b.inFlight} / ${b.maxInFlight ?? '∞'} in flight`
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
                { href: `#/rollout/${encodeURIComponent(rid)}`, class: 'rollout-link', title: rid },
                `rollout ${shortRollout(rid)}`
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
        quarantineList(quarantined.filter((q) => q['channel'] === name)),
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
