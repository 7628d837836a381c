/**
 * The rollout page: state, halt (with the probe failure behind it), resume and cancel, gates,
 * the waves as a timeline, and the rollout's event log.
 */
import { type Answer, get, eventOf, rolloutOf, wavesOf } from '../api.ts'
import { type Child, h } from '../dom.ts'
import { clock, waveWord } from '../format.ts'
import { eventLog } from './rollout-log.ts'
import { type Ctx, button, load, rolloutBadge } from './shared.ts'
import { haltBox, phaseOf, soakText, waveRow, wavesFor } from './waves.ts'

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

/** The rollout's detail (operators and viewers alike): waves, hosts, gates, outcome. */
function rolloutDetail(id: string): Promise<Answer> {
  return get(`/v1/rollouts/${encodeURIComponent(id)}`)
}

/** The rollout page. */
export function rolloutPage(ctx: Ctx, id: string): Child {
  const detailRaw = load(ctx, `rollout:${id}`, 2_000, () => rolloutDetail(id))
  // A detail has a state; an error answer has none.
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
      r.currentWave === null || !r.open ? null : ` · current wave ${r.currentWave}`
    ),
    haltBox(r, probeLine),
    // Only the actions that can still apply: the CP refuses the rest (409).
    r.open
      ? h(
          'div',
          { class: 'actions' },
          r.halt?.active === true
            ? button(
                ctx,
                'Resume…',
                `/v1/operator/rollouts/${encodeURIComponent(r.id)}/resume`,
                {},
                `Resume rollout ${r.id}`
              )
            : null,
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
          // A closed rollout has no current wave, only where it stopped.
          const cur = r.open && r.currentWave === w.index
          const soak = soakText(w)
          return h(
            'li',
            {
              class: cur ? 'current' : '',
              'aria-current': cur ? 'step' : false,
              'data-wave-state': w.state ?? false,
            },
            waveRow(`wave ${w.index}`, members, (x) => w.states[x.hostname] ?? phaseOf(x, r), [
              w.state === null ? (cur ? ' · current' : null) : ` · ${waveWord(w.state)}`,
              soak === null ? null : ` · ${soak}`,
            ])
          )
        })
      )
    ),
    eventLog(ctx, id, r.id),
  ]
}
