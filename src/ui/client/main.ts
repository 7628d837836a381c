/**
 * The dashboard shell: reads the caller's role, follows `/v1/stream` (a `snapshot`, then
 * `change` events), routes on the URL hash and renders the current page on every change. The
 * stream reconnects by itself after the control plane restarts; while it cannot, the page says
 * "disconnected" (and keeps showing the last status it had).
 */
import { type Answer, type Json, act, get, statusOf, type Status } from './api.ts'
import { h, replace } from './dom.ts'
import { hostPage } from './pages/host.ts'
import { auditPage, quarantinesPage } from './pages/lists.ts'
import { overview } from './pages/overview.ts'
import { rolloutPage } from './pages/rollout.ts'
import { logFilter } from './pages/rollout-log.ts'
import { type Ctx, invalidate } from './pages/shared.ts'

const RETRY_MS = [1_000, 2_000, 5_000]

let status: Status = { channels: [], hosts: [], rollouts: [], budgets: [] }
let loaded = false
let canAct = false
let who = ''

const main = h('main', { id: 'main', tabindex: '-1' })
const conn = h(
  'span',
  { class: 'conn', role: 'status', 'aria-live': 'polite', 'data-conn': 'connecting' },
  'connecting…'
)
const toast = h('p', { class: 'toast', role: 'status', 'aria-live': 'polite' })
const whoEl = h('span', { class: 'who' })

function nav(): HTMLElement {
  const link = (href: string, label: string) => h('a', { href, 'data-nav': href }, label)
  return h(
    'nav',
    { 'aria-label': 'pages' },
    link('#/', 'Overview'),
    link('#/quarantines', 'Quarantines'),
    link('#/audit', 'Audit trail')
  )
}

function setConn(state: 'live' | 'connecting' | 'disconnected'): void {
  conn.dataset['conn'] = state
  conn.textContent =
    state === 'live' ? '● live' : state === 'connecting' ? '○ connecting…' : '✕ disconnected'
}

/** The confirmation dialog of every operator action: it asks for the reason. */
const dialog = h('dialog', { 'aria-labelledby': 'dlg-title' })
function confirmAction(title: string, path: string, body: Json, then?: () => void): void {
  const reason = h('textarea', {
    id: 'dlg-reason',
    required: true,
    rows: 3,
    'aria-describedby': 'dlg-help',
  })
  const error = h('p', { class: 'error', role: 'alert' })
  const submit = h('button', { type: 'submit', class: 'act' }, 'Confirm')
  const form = h(
    'form',
    { method: 'dialog', novalidate: true },
    h('h2', { id: 'dlg-title' }, title),
    h('label', { for: 'dlg-reason' }, 'Reason (recorded in the audit trail)'),
    reason,
    h('p', { id: 'dlg-help', class: 'help' }, 'Required. Say why, for the operators after you.'),
    error,
    h(
      'div',
      { class: 'actions' },
      submit,
      h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')
    )
  )
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    const text = reason.value.trim()
    if (text === '') {
      error.textContent = 'A reason is required.'
      reason.focus()
      return
    }
    submit.disabled = true
    const r: Answer = await act(path, { ...body, reason: text })
    submit.disabled = false
    if (!r.ok) {
      error.textContent = `Refused (${r.status || 'network'}): ${r.error}`
      return
    }
    dialog.close()
    toast.textContent = `Done: ${title}.`
    invalidate()
    then?.()
    render()
  })
  replace(dialog, form)
  // The page re-renders while the dialog is open: focus returns to the opener's successor.
  dialog.addEventListener(
    'close',
    () =>
      document.querySelector<HTMLElement>(`[data-key="${CSS.escape(`act:${title}`)}"]`)?.focus(),
    { once: true }
  )
  dialog.showModal()
  reason.focus()
}

const ctx = (): Ctx => ({ status, canAct, confirm: confirmAction, refresh: render })

function route(): { page: string; arg: string } {
  const [, page = '', ...rest] = location.hash.replace(/^#/, '').split('/')
  return { page, arg: decodeURIComponent(rest.join('/')) }
}

let lastRoute = ''
function render(): void {
  const { page, arg } = route()
  const key = `${page}/${arg}`
  const moved = key !== lastRoute
  if (moved && page === 'rollout')
    Object.assign(logFilter, { host: '', kind: '', after: 0, trail: [] })
  lastRoute = key
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    const current = a.dataset['nav'] === `#/${page}` || (page === '' && a.dataset['nav'] === '#/')
    if (current) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  const c = ctx()
  if (!loaded && page !== 'quarantines' && page !== 'audit')
    replace(main, h('p', {}, 'Loading the fleet…'))
  else if (page === 'rollout') replace(main, rolloutPage(c, arg))
  else if (page === 'host') replace(main, hostPage(c, arg))
  else if (page === 'quarantines') replace(main, quarantinesPage(c))
  else if (page === 'audit') replace(main, auditPage(c))
  else replace(main, overview(c, page === 'channel' ? arg : undefined))
  document.title = `NixFleet — ${page === '' ? 'fleet' : page}${arg ? ` ${arg}` : ''}`
  // A new page moves keyboard focus to its content, as a page load would.
  if (moved && document.activeElement === document.body) main.focus({ preventScroll: true })
}

/** Follows the status stream, reconnecting with a growing delay while the CP is away. */
function connect(attempt = 0): void {
  if (attempt > 0) setConn(attempt > 1 ? 'disconnected' : 'connecting')
  const es = new EventSource('/v1/stream')
  const apply = (e: MessageEvent<string>) => {
    let body: unknown
    try {
      body = JSON.parse(e.data)
    } catch {
      return
    }
    if (body !== null && typeof body === 'object' && 'hosts' in body) {
      status = statusOf(body)
      loaded = true
      render()
    } else void reread()
  }
  es.addEventListener('open', () => {
    attempt = 0
    setConn('live')
  })
  es.addEventListener('snapshot', apply)
  es.addEventListener('change', apply)
  es.addEventListener('error', () => {
    setConn('disconnected')
    // The browser retries a dropped stream itself, but not a refused one (CP restarting).
    if (es.readyState === EventSource.CLOSED) {
      setTimeout(() => connect(attempt + 1), RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)])
    }
  })
}

/** A `change` without the status in it: read the list views. */
async function reread(): Promise<void> {
  const [hosts, rollouts, channels] = await Promise.all([
    get('/v1/hosts'),
    get('/v1/rollouts'),
    get('/v1/channels'),
  ])
  if (!hosts.ok) return
  status = statusOf({
    hosts: hosts.body['hosts'],
    rollouts: rollouts.ok ? rollouts.body['rollouts'] : [],
    channels: channels.ok ? channels.body['channels'] : status.channels,
    budgets: status.budgets,
  })
  loaded = true
  render()
}

async function start(): Promise<void> {
  const root = document.getElementById('app')!
  root.append(
    h(
      'a',
      {
        class: 'skip',
        href: '#main',
        onclick: (e: Event) => {
          e.preventDefault()
          main.focus()
        },
      },
      'Skip to content'
    ),
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, 'NixFleet'),
      nav(),
      h('span', { class: 'meta' }, whoEl, conn)
    ),
    toast,
    main,
    dialog
  )
  window.addEventListener('hashchange', () => {
    toast.textContent = ''
    render()
  })
  const w = await get('/v1/whoami')
  if (w.ok) {
    who = String(w.body['name'] ?? w.body['cn'] ?? '')
    canAct = w.body['role'] === 'operator'
    whoEl.textContent = `${who} (${String(w.body['role'])})`
    document.body.dataset['role'] = String(w.body['role'])
  }
  render()
  connect()
  // Countdowns and "last seen" move even when the fleet does not.
  setInterval(() => {
    if (!dialog.open) render()
  }, 5_000)
}

void start()
