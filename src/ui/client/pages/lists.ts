/**
 * The fleet-wide lists: quarantined closures (each clearable by an operator) and the audit
 * trail of operator actions, newest first, paged by the control plane's `next` cursor.
 */
import { type Json, get } from '../api.ts'
import { type Child, h } from '../dom.ts'
import { clock, short } from '../format.ts'
import { type Ctx, PAGE, button, closureCode, load, tablePage } from './shared.ts'

const readQuarantines = (ctx: Ctx, maxAgeMs: number) =>
  load(ctx, 'quarantines', maxAgeMs, () => get('/v1/operator/quarantines'))

/** The quarantined closures as far as they are known yet (none while loading or refused). */
export function quarantinesOf(ctx: Ctx): Json[] {
  const r = readQuarantines(ctx, 10_000)
  return r?.ok === true && Array.isArray(r.body['quarantines'])
    ? (r.body['quarantines'] as Json[])
    : []
}

/** The quarantines page. */
export function quarantinesPage(ctx: Ctx): Child {
  const r = readQuarantines(ctx, 3_000)
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
            h('td', { class: 'nowrap' }, q['host'] ? String(q['host']) : ''),
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
