/**
 * The rollout page's event log: filtered by host and kind, paged forward by sequence number.
 * The filter and page live here (not in the URL); the shell resets them on opening a rollout.
 */
import { type LogEvent, eventOf, get } from '../api.ts'
import { type Child, h } from '../dom.ts'
import { type Ctx, PAGE, eventTable, load } from './shared.ts'

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
  // The control plane filters and pages (`after`, `host`, `kind`); its `next` is the cursor.
  const events = (Array.isArray(r.body['events']) ? r.body['events'] : []).map(eventOf)
  const next = typeof r.body['next'] === 'number' ? r.body['next'] : null
  return { events, next, error: null }
}

/** The event log section of rollout `id`; `shown` is left out of each row's details. */
export function eventLog(ctx: Ctx, id: string, shown: string): Child {
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
  return h(
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
            eventTable(log.events, `events after #${f.after}`, shown),
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
  )
}
