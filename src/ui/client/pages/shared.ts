/**
 * What several dashboard pages share: the page context the shell hands them, the fetch-once
 * cache of a page's asynchronous reads, the action button (it opens the shell's confirmation
 * dialog, and exists only for operators), state badges and log tables. Imports nothing from
 * the pages, so they and the shell can all build on it.
 */
import { type Json, type LogEvent, type Status } from '../api.ts'
import { now } from '../clock.ts'
import { type Child, h } from '../dom.ts'
import { clock, details, look, short, shortRollout } from '../format.ts'

/** Rows per page of the paged logs (rollout events, audit trail). */
export const PAGE = 50

/** What a page needs from the shell. */
export type Ctx = {
  readonly status: Status
  readonly canAct: boolean
  /** Opens the confirmation dialog of an action; `then` runs after it succeeded. */
  readonly confirm: (title: string, path: string, body: Json, then?: () => void) => void
  /** Re-renders the current page (after an asynchronous read finished). */
  readonly refresh: () => void
}

export const button = (ctx: Ctx, label: string, path: string, body: Json, aria: string): Child =>
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

export const badge = (phase: string | null): HTMLElement => {
  const l = look(phase)
  return h(
    'span',
    { class: `badge ${l.cls}` },
    h('span', { 'aria-hidden': 'true' }, l.glyph),
    ' ',
    l.word
  )
}

export const rolloutBadge = (state: string | null): HTMLElement => {
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

/** A page's asynchronous data: fetched once per key, re-rendered when it arrives. */
export const cache = new Map<string, { at: number; value: unknown }>()
export function load<T>(
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

export function tablePage(caption: string, cols: string[], rows: Child[][]): HTMLElement {
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

/** A rollout id as a link to its page, shortened, with the whole id in the title. */
export const rolloutLink = (id: string): HTMLElement =>
  h('a', { href: `#/rollout/${encodeURIComponent(id)}`, title: id }, shortRollout(id))

/**
 * A table of events. A rollout's log has a host column; a host's log has a rollout column
 * instead (its host column would be the page's own host, or empty).
 */
export function eventTable(
  evs: LogEvent[],
  caption: string,
  shown: string | null = null,
  by: 'host' | 'rollout' = 'host'
): HTMLElement {
  return tablePage(
    caption,
    ['seq', 'time', by, 'kind', 'details'],
    evs.map((e) => [
      e.seq,
      h('td', { class: 'nowrap' }, clock(e.at, { seconds: true })),
      by === 'host'
        ? h('td', { class: 'nowrap' }, e.host ?? '')
        : h('td', { class: 'nowrap' }, e.rollout === null ? '' : rolloutLink(e.rollout)),
      e.kind,
      h('td', { class: 'detail' }, details(e.detail, shown)),
    ])
  )
}

/** A closure, shortened, with the whole of it in the title. */
export const closureCode = (c: string | null): HTMLElement =>
  h('code', { title: c ?? '' }, short(c))
