/**
 * Unit tests of the dashboard's serving: the files and their headers, the local listener's Host
 * guard, and the CSRF rule shared with the control plane (browser POSTs need the same origin and
 * the custom header; requests without browser labels pass).
 */
import { describe, expect, test } from 'bun:test'
import { csrfRefusal } from './csrf.ts'
import { UI_SIZES } from './assets.ts'
import { hostsFor, localApp } from './local.ts'

const HOST = '127.0.0.1:8088'
// Nothing listens here: a request that passes the guards fails upstream with 502.
const cp = { url: 'https://127.0.0.1:9', caPem: '', certPem: '', keyPem: '' }
const app = localApp(cp, () => hostsFor('127.0.0.1', 8088))
const req = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
  app.request(`http://${HOST}${path}`, { ...init, headers: { host: HOST, ...init.headers } })

describe('dashboard files', () => {
  test('the page, its script and style, with a strict CSP and no inline script', async () => {
    const page = await req('/ui/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    const html = await page.text()
    expect(html).toContain('<script type="module" src="app.js"></script>')
    expect(html).not.toMatch(/<script>|style=/)
    const js = await req('/ui/app.js')
    expect(js.headers.get('content-type')).toContain('javascript')
    expect((await js.text()).length).toBe(UI_SIZES.script)
    expect((await req('/ui/app.css')).status).toBe(200)
    expect(UI_SIZES.script + UI_SIZES.style + UI_SIZES.index).toBeLessThan(200 * 1024)
    expect((await req('/ui')).headers.get('location')).toBe('/ui/')
    expect((await req('/')).headers.get('location')).toBe('/ui/')
  })

  test('the local listener answers only its own name', async () => {
    expect((await req('/ui/', { headers: { host: 'evil.example:8088' } })).status).toBe(421)
    expect((await req('/ui/', { headers: { host: 'localhost:8088' } })).status).toBe(200)
    expect([...hostsFor('::1', 1)]).toContain('[::1]:1')
    expect([...hostsFor('10.0.0.5', 80)]).toEqual(['10.0.0.5:80'])
    expect(hostsFor('0.0.0.0', 80)).toContain('127.0.0.1:80')
    expect(hostsFor('0.0.0.0', 80)).not.toContain('evil.example:80')
  })

  test('browser POSTs need the same origin and the CSRF header before they reach the CP', async () => {
    const post = (headers: Record<string, string>) =>
      req('/v1/operator/rollouts/x/resume', { method: 'POST', body: '{}', headers })
    expect((await post({ origin: 'http://evil.example', 'x-nixfleet-csrf': '1' })).status).toBe(403)
    expect((await post({ 'sec-fetch-site': 'cross-site', 'x-nixfleet-csrf': '1' })).status).toBe(
      403
    )
    expect((await post({ origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin' })).status).toBe(
      403
    )
    const ok = { origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin', 'x-nixfleet-csrf': '1' }
    expect((await post(ok)).status).toBe(502)
    expect((await post({})).status).toBe(502)
    expect((await req('/v1/other', { method: 'DELETE' })).status).toBe(404)
  })
})

describe('csrfRefusal', () => {
  const base = {
    method: 'POST',
    host: 'cp:8443',
    origin: undefined,
    fetchSite: undefined,
    token: undefined,
  }
  test('non-browser requests and reads pass', () => {
    expect(csrfRefusal(base)).toBeUndefined()
    expect(csrfRefusal({ ...base, method: 'GET', fetchSite: 'cross-site' })).toBeUndefined()
  })
  test('a browser request must be same-origin and carry the header', () => {
    const same = { ...base, origin: 'https://cp:8443', fetchSite: 'same-origin' }
    expect(csrfRefusal({ ...same, token: '1' })).toBeUndefined()
    expect(csrfRefusal(same)).toContain('x-nixfleet-csrf')
    expect(csrfRefusal({ ...same, token: '1', origin: 'https://cp:9999' })).toContain(
      'cross-origin'
    )
    expect(csrfRefusal({ ...same, token: '1', origin: 'null' })).toContain('cross-origin')
    expect(csrfRefusal({ ...same, token: '1', fetchSite: 'same-site' })).toContain('cross-site')
    expect(csrfRefusal({ ...base, token: '1', fetchSite: 'none' })).toContain('cross-site')
  })
})
