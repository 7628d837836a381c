/**
 * The dashboard in a real browser (Debian's Chromium via puppeteer-core) on a real fleet: a
 * control plane and one agent process per host, reached through `nixfleet ui` so the browser
 * needs no client certificate. The page must show every host in its wave with its state, show
 * a halt and its probe's reason without a reload, carry an operator's resume (with a reason) to
 * the control plane, hide every action from a non-operator, and survive a control plane
 * restart. Screenshots go to $NIXFLEET_SCREENSHOTS when set (how docs/dashboard-*.png are made).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import type { Browser, Page } from 'puppeteer-core'
import type { Lab } from '../../src/lab/lab.ts'
import { launchChromium } from '../support/browser.ts'
import { eventsOf, hostsOf, makeLab, rid, until } from './support.ts'

// A fleet of processes and a browser on a loaded 2-core machine.
setDefaultTimeout(180_000)

const WAVES: Record<string, string[][]> = {
  edge: [['edge-1']],
  stable: [['canary'], ['web-1', 'web-2'], ['db-1']],
}

let lab: Lab
const uis: ReturnType<typeof Bun.spawn>[] = []
let url = ''
let chromium: Awaited<ReturnType<typeof launchChromium>>
let browser: Browser
let page: Page
let good = ''
let halted = ''
const shots = process.env['NIXFLEET_SCREENSHOTS'] ?? tmpdir()

/**
 * Starts `nixfleet ui` against the lab's control plane with the certificate at `cert` (.pem and
 * .key); resolves to the URL it prints.
 */
async function startUi(l: Lab, cert: string): Promise<string> {
  const d = l.layout
  const proc = Bun.spawn(
    [
      l.opts.bin,
      'ui',
      '--listen',
      '127.0.0.1:0',
      '--cp-url',
      `https://127.0.0.1:${l.port}`,
      '--ca-cert',
      join(d.ca, 'ca.pem'),
      '--client-cert',
      `${cert}.pem`,
      '--client-key',
      `${cert}.key`,
    ],
    { stdout: 'pipe', stderr: 'inherit' }
  )
  uis.push(proc)
  const reader = proc.stdout.getReader()
  let text = ''
  while (!text.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`nixfleet ui exited: ${text}`)
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  const m = /dashboard: (http:\/\/\S+)/.exec(text)
  if (!m) throw new Error(`nixfleet ui printed: ${text}`)
  return m[1]!
}

/** The state each tile of the overview shows, by host, with its wave label. */
async function tiles(
  p: Page
): Promise<Record<string, { wave: string; state: string; label: string }>> {
  return p.$$eval('.tile', (els) =>
    Object.fromEntries(
      els.map((e) => [
        e.getAttribute('data-host') ?? '',
        {
          wave: `${e.closest('[data-channel]')?.getAttribute('data-channel')}/${e.closest('[data-wave]')?.getAttribute('data-wave')}`,
          state: e.getAttribute('data-state') ?? '',
          label: e.getAttribute('aria-label') ?? '',
        },
      ])
    )
  )
}

// Page-side code is passed as text: the tests are type-checked without the DOM library.
const waitText = (p: Page, selector: string, text: string, timeout = 60_000) =>
  p.waitForFunction(
    `[...document.querySelectorAll(${JSON.stringify(selector)})].some((e) => (e.textContent ?? '').includes(${JSON.stringify(text)}))`,
    { timeout, polling: 200 }
  )
const go = (p: Page, hash: string) => p.evaluate(`location.hash = ${JSON.stringify(hash)}`)
const overflow = (p: Page) =>
  p.evaluate('document.documentElement.scrollWidth - window.innerWidth') as Promise<number>
const marker = (p: Page) => p.evaluate('window.marker') as Promise<number | undefined>

beforeAll(async () => {
  lab = await makeLab({
    channels: [
      { name: 'edge', soakMinutes: [0], onHealthFailure: 'halt' },
      {
        name: 'stable',
        soakMinutes: [0, 0, 0],
        onHealthFailure: 'rollback-and-halt',
        sustainedFailureSecs: 2,
      },
    ],
    hosts: [
      { name: 'edge-1', channel: 'edge', wave: 0 },
      { name: 'canary', channel: 'stable', wave: 0, tags: ['stable'] },
      { name: 'web-1', channel: 'stable', wave: 1, tags: ['stable'] },
      { name: 'web-2', channel: 'stable', wave: 1, tags: ['stable'] },
      { name: 'db-1', channel: 'stable', wave: 2, tags: ['stable'] },
    ],
    channelEdges: [['edge', 'stable']],
    budgets: [{ tags: ['stable'], maxInFlight: 1 }],
  })
  const closures = Object.fromEntries(
    [...lab.hosts.keys()].map((h) => [h, lab.closure(h, `r1-${h}`)])
  )
  good = await lab.release(closures)
  await lab.startControlPlane()
  for (const h of lab.hosts.keys()) lab.startAgent(h)
  url = await startUi(lab, lab.layout.operator)
  chromium = await launchChromium()
  browser = chromium.browser
  page = await browser.newPage()
  await page.setViewport({ width: 1280, height: 800 })
})

afterAll(async () => {
  await chromium?.close()
  for (const p of uis) p.kill()
  await Promise.all(uis.map((p) => p.exited))
  await lab?.close()
})

describe('dashboard in Chromium', () => {
  test('the page is served small, with a strict CSP and no inline script', async () => {
    const res = await fetch(url)
    expect(res.status).toBe(200)
    const csp = res.headers.get('content-security-policy') ?? ''
    for (const d of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "frame-ancestors 'none'",
    ])
      expect(csp).toContain(d)
    const html = await res.text()
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html).not.toMatch(/\bstyle=|https?:\/\//)
    const js = await (await fetch(new URL('app.js', url))).arrayBuffer()
    const css = await (await fetch(new URL('app.css', url))).arrayBuffer()
    expect(html.length + js.byteLength + css.byteLength).toBeLessThan(200 * 1024)
    // Only this listener's own name is answered (a DNS-rebinding page cannot borrow it).
    const rebound = await fetch(url, { headers: { host: `evil.example:${new URL(url).port}` } })
    expect(rebound.status).toBe(421)
  })

  test('the control plane serves the page over mTLS, streams the status, refuses cross-site POSTs', async () => {
    const d = lab.layout
    const tls = {
      cert: readFileSync(`${d.operator}.pem`, 'utf8'),
      key: readFileSync(`${d.operator}.key`, 'utf8'),
      ca: readFileSync(join(d.ca, 'ca.pem'), 'utf8'),
    }
    const cp = `https://127.0.0.1:${lab.port}`
    const page = await fetch(`${cp}/ui/`, { tls })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toContain('src="app.js"')
    // Without a client certificate there is no page.
    expect((await fetch(`${cp}/ui/`, { tls: { ca: tls.ca } })).status).toBe(401)

    const abort = new AbortController()
    const stream = await fetch(`${cp}/v1/stream`, { tls, signal: abort.signal })
    expect(stream.headers.get('content-type')).toContain('text/event-stream')
    const reader = stream.body!.getReader()
    let text = ''
    while (!/\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value)
    abort.abort()
    expect(text).toMatch(/^event: snapshot\ndata: \{.*"hosts":\[/m)
    expect(text).toMatch(/^id: \d+$/m)

    const post = (headers: Record<string, string>) =>
      fetch(`${cp}/v1/operator/rollouts/${rid('stable', good)}/resume`, {
        method: 'POST',
        tls,
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ reason: 'x' }),
      })
    const cross = await post({ origin: 'https://evil.example', 'x-nixfleet-csrf': '1' })
    expect(cross.status).toBe(403)
    // Same origin without the header is refused too; curl (no browser labels) reaches the action.
    expect((await post({ origin: cp, 'sec-fetch-site': 'same-origin' })).status).toBe(403)
    expect([404, 409]).toContain((await post({})).status)
  })

  test('the overview shows every host in its wave with its state, live', async () => {
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${m.text()} (${m.location().url ?? ''})`)
    })
    await page.goto(url)
    await page.waitForSelector('.conn[data-conn="live"]', { timeout: 30_000 })
    // No reload from here on: the marker survives only in the same document.
    await page.evaluate('window.marker = 42')
    await until(
      'every tile converged',
      async () => {
        const t = await tiles(page)
        return [...lab.hosts.keys()].every((h) => t[h]?.state === 'Converged')
      },
      90_000
    )
    const t = await tiles(page)
    for (const [channel, waves] of Object.entries(WAVES))
      waves.forEach((hosts, i) => {
        for (const h of hosts) {
          expect(t[h]?.wave).toBe(`${channel}/wave ${i}`)
          expect(t[h]?.label).toBe(`${h}: converged`)
        }
      })
    expect(Object.keys(t).sort()).toEqual([...lab.hosts.keys()].sort())
    // What the page shows is what the control plane says.
    const api = await hostsOf(lab)
    for (const h of lab.hosts.keys()) expect(api[h]?.converged).toBe(true)
    await waitText(page, '.channel-head', 're-sign before')
    await page.screenshot({ path: join(shots, 'dashboard-converged.png'), fullPage: true })
    // Readable on a phone: nothing wider than the screen.
    await page.setViewport({ width: 390, height: 844 })
    expect(await overflow(page)).toBeLessThanOrEqual(0)
    await page.screenshot({ path: join(shots, 'dashboard-converged-phone.png'), fullPage: true })
    await page.setViewport({ width: 1280, height: 800 })
    expect(errors).toEqual([])
    // (A phone-sized viewport without isMobile: puppeteer reloads the page to switch that.)
  })

  test('a halt appears with its probe reason without a reload; a resume with a reason reaches the CP', async () => {
    const closures = Object.fromEntries(
      [...lab.hosts.keys()].map((h) => [
        h,
        lab.closure(h, `r2-${h}`, h === 'canary' ? { kind: 'probe-fails' } : { kind: 'ok' }),
      ])
    )
    const bad = await lab.release(closures)
    halted = bad
    await lab.refresh()
    const id = rid('stable', bad)
    // The overview announces the halt by itself (the stream), then the rollout page explains it.
    await page.waitForSelector(`.halt[data-halt="${id}"]`, { timeout: 90_000 })
    await page.screenshot({ path: join(shots, 'dashboard-overview.png'), fullPage: true })
    await page.click(`[data-channel="stable"] .rollout-link`)
    await page.waitForFunction(
      `location.hash === ${JSON.stringify(`#/rollout/${encodeURIComponent(id)}`)}`
    )
    const rows = await eventsOf(lab, id)
    const probe = rows
      .filter(
        (r) =>
          r.host === 'canary' &&
          r.payload['kind'] === 'ProbeResult' &&
          typeof r.payload['failureReason'] === 'string'
      )
      .pop()
    expect(probe).toBeDefined()
    const reason = String(probe!.payload['failureReason'])
    await waitText(page, '.halt .probe-reason', reason)
    const halt = await page.$eval('.halt', (e) => e.textContent ?? '')
    expect(halt).toContain('canary')
    expect(await marker(page)).toBe(42)
    await page.screenshot({ path: join(shots, 'dashboard-halted.png'), fullPage: true })
    await page.setViewport({ width: 390, height: 844 })
    expect(await overflow(page)).toBeLessThanOrEqual(0)
    await page.screenshot({ path: join(shots, 'dashboard-halted-phone.png'), fullPage: true })
    await page.setViewport({ width: 1280, height: 800 })

    // A browser POST without the CSRF header is refused, on the local listener and behind it.
    const forged = await page.evaluate(async (i) => {
      const r = await fetch(`/v1/operator/rollouts/${i}/resume`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'forged' }),
      })
      return r.status
    }, id)
    expect(forged).toBe(403)

    // Resume from the page, by keyboard: the dialog asks for the reason first.
    await page.focus(`button[aria-label="Resume rollout ${id}"]`)
    await page.keyboard.press('Enter')
    await page.waitForSelector('dialog[open] textarea')
    expect(await page.evaluate('document.activeElement?.id')).toBe('dlg-reason')
    await page.click('dialog[open] button[type="submit"]')
    await waitText(page, 'dialog[open] .error', 'reason is required')
    await page.keyboard.type('canary probe fixed upstream; resuming')
    await page.click('dialog[open] button[type="submit"]')
    await waitText(page, '.toast', 'Done')
    const audited = await until('the resume in the CP event log', async () =>
      (await eventsOf(lab, id)).find(
        (r) => r.kind === 'operator_action' && r.payload['action'] === 'resume'
      )
    )
    expect(audited.payload['reason']).toBe('canary probe fixed upstream; resuming')
    expect(audited.payload['operator']).toBe('operator-lab')
    // The page's event log shows it, filtered by kind.
    await page.type('input[data-key="f-kind"]', 'operator_action')
    await page.keyboard.press('Tab')
    await waitText(page, 'table.log td', 'canary probe fixed upstream; resuming')
    // The CP's audit trail has it, and the audit trail page shows it.
    const trail = await lab.api<{ actions: { action: string; reason: string }[] }>(
      '/v1/operator/audit'
    )
    expect(trail.body.actions).toContainEqual(
      expect.objectContaining({ action: 'resume', reason: 'canary probe fixed upstream; resuming' })
    )
    await page.click('nav a[href="#/audit"]')
    await waitText(page, 'main table.log td', 'canary probe fixed upstream; resuming')
  })

  test('a superseded rollout shows its halt as past, offers no action, and logs to the second', async () => {
    const closures = Object.fromEntries(
      [...lab.hosts.keys()].map((h) => [h, lab.closure(h, `r3-${h}`)])
    )
    const next = await lab.release(closures)
    await lab.refresh()
    const id = rid('stable', halted)
    await until('the halted rollout superseded', async () => {
      const r = await lab.api<{ state: string }>(`/v1/rollouts/${encodeURIComponent(id)}`)
      return r.body.state === 'Superseded'
    })
    await go(page, `#/rollout/${encodeURIComponent(id)}`)
    await waitText(page, '.summary .badge', 'Superseded')
    await waitText(page, '.halt.past', 'no longer holding it')
    await page.waitForSelector('table.log td')
    // The CP would refuse them (409): the page does not offer them.
    expect(await page.$$('.halt[role="alert"]')).toHaveLength(0)
    expect(await page.$$(`button[aria-label="Resume rollout ${id}"]`)).toHaveLength(0)
    expect(await page.$$(`button[aria-label="Cancel rollout ${id}"]`)).toHaveLength(0)
    // Every event of a rollout happens within a minute or two: its times carry seconds.
    const times = (await page.$$eval('table.log tbody tr td:nth-child(2)', (els) =>
      els.map((e) => e.textContent ?? '')
    )) as string[]
    expect(times.length).toBeGreaterThan(0)
    for (const t of times) expect(t).toMatch(/^\d\d:\d\d:\d\d$/)
    await page.screenshot({ path: join(shots, 'dashboard-superseded.png'), fullPage: true })

    // A channel's page counts its own hosts, not the fleet's.
    await go(page, '#/channel/stable')
    await waitText(page, '.summary', '4 hosts ·')
    expect(await page.$eval('main .summary', (e) => e.textContent ?? '')).not.toContain('channel')
    await page.waitForSelector(`.rollout-link[title="${rid('stable', next)}"]`)
    expect(await page.$eval('.rollout-link', (e) => e.textContent)).toBe(
      `rollout stable@${next.slice(0, 8)}`
    )
    await page.screenshot({ path: join(shots, 'dashboard-channel.png'), fullPage: true })

    // A host's events name their rollout once, in a column, and have no host column.
    await go(page, '#/host/canary')
    await page.waitForSelector('table.log td')
    const cols = (await page.$$eval('table.log th', (els) =>
      els.map((e) => e.textContent ?? '')
    )) as string[]
    expect(cols).toEqual(['seq', 'time', 'rollout', 'kind', 'details'])
    const details = (await page.$$eval('table.log td.detail', (els) =>
      els.map((e) => e.textContent ?? '')
    )) as string[]
    for (const d of details) expect(d).not.toMatch(/rollout_?[iI]d:/)
    await page.screenshot({ path: join(shots, 'dashboard-host.png'), fullPage: true })
  })

  test('a viewer sees the fleet but no action buttons, and the API refuses a viewer action', async () => {
    const cert = join(lab.opts.dir, 'viewer')
    const mint = Bun.spawn(
      [
        lab.opts.bin,
        'mint-operator-cert',
        '--ca',
        lab.layout.ca,
        '--name',
        'watcher',
        '--out',
        cert,
        '--role',
        'viewer',
      ],
      { stdout: 'ignore', stderr: 'ignore' }
    )
    expect(await mint.exited).toBe(0)
    const viewerUrl = await startUi(lab, cert)
    const viewer = await browser.newPage()
    await viewer.goto(`${viewerUrl}#/rollout/${encodeURIComponent(rid('stable', halted))}`)
    await viewer.waitForSelector('.conn[data-conn="live"]', { timeout: 30_000 })
    await waitText(viewer, '.who', 'viewer-watcher (viewer)')
    // A closed rollout too (a viewer is answered its row from the channel's history).
    await viewer.waitForSelector('h1 code')
    await waitText(viewer, '.halt.past', 'no longer holding it')
    // Each page once loaded (what an operator would act on is on screen), without a button.
    const pages: [string, string][] = [
      [`#/rollout/${encodeURIComponent(rid('stable', halted))}`, 'section h2#waves-h'],
      ['#/', '.tile[data-host="canary"]'],
      ['#/host/canary', 'dl.facts'],
      ['#/quarantines', 'main table.log, main p'],
    ]
    for (const [hash, loaded] of pages) {
      await go(viewer, hash)
      await viewer.waitForSelector(loaded)
      expect(await viewer.$$('button.act')).toHaveLength(0)
    }
    // Every tile is there for the viewer too.
    await go(viewer, '#/')
    await viewer.waitForSelector('.tile[data-host="db-1"]')
    expect((await tiles(viewer))['canary']?.wave).toBe('stable/wave 0')
    // A forged action from the viewer's page (CSRF header and all) is refused by the CP.
    const status = await viewer.evaluate(async () => {
      const r = await fetch('/v1/operator/hosts/canary/deny', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-nixfleet-csrf': '1' },
        body: JSON.stringify({ reason: 'not mine to do' }),
      })
      return r.status
    })
    expect(status).toBe(403)
    // The operator's page, same routes, does show them.
    await go(page, '#/host/canary')
    await page.waitForSelector('button.act')
    await viewer.close()
  })

  test('the page says "disconnected" while the control plane is down and resumes by itself', async () => {
    await go(page, '#/')
    await page.waitForSelector('.conn[data-conn="live"]')
    await lab.stopControlPlane()
    await page.waitForSelector('.conn[data-conn="disconnected"]', { timeout: 30_000 })
    expect(await page.$eval('.conn', (e) => e.textContent)).toContain('disconnected')
    await lab.startControlPlane()
    await page.waitForSelector('.conn[data-conn="live"]', { timeout: 60_000 })
    await page.waitForSelector('.tile[data-host="db-1"]')
    expect(await marker(page)).toBe(42)
  })
})
