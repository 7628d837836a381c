/**
 * The dashboard's files and the Hono app that serves them (at `/ui/` on the control plane and
 * on `nixfleet ui`'s loopback listener). Everything is inlined at build time (no CDN, no fonts,
 * no inline script), and every answer carries a strict Content-Security-Policy so the page can
 * only load its own script and style and talk to its own origin.
 */
import { type Env, Hono } from 'hono'
import { clientScript, clientStyle } from './bundle-macro.ts' with { type: 'macro' }

const SCRIPT: string = clientScript()
const STYLE: string = clientStyle()

/** The Content-Security-Policy of every dashboard answer. */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

const INDEX = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>NixFleet</title>
<link rel="icon" href="icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="app.css">
<script type="module" src="app.js"></script>
</head>
<body>
<noscript>The NixFleet dashboard needs JavaScript; the same data is at /v1/hosts and /v1/rollouts.</noscript>
<div id="app"></div>
</body>
</html>
`

// Without an icon of its own, the browser asks for /favicon.ico and logs the 404.
const ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b4f9c"/><path d="M4 12V4l8 8V4" stroke="#fff" stroke-width="2" fill="none"/></svg>'

/** The sizes of the served files (the page stays small: checked by the tests). */
export const UI_SIZES = { script: SCRIPT.length, style: STYLE.length, index: INDEX.length }

function headers(type: string): Record<string, string> {
  return {
    'content-type': type,
    'content-security-policy': UI_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  }
}

/** The dashboard's files at `/ui/` (mount at the root); `/ui` redirects there. */
export function uiFiles<E extends Env>(): Hono<E> {
  const app = new Hono<E>()
  app.get('/ui', (c) => c.redirect('/ui/', 301))
  app.get('/ui/', (c) => c.body(INDEX, 200, headers('text/html; charset=utf-8')))
  app.get('/ui/app.js', (c) => c.body(SCRIPT, 200, headers('text/javascript; charset=utf-8')))
  app.get('/ui/icon.svg', (c) => c.body(ICON, 200, headers('image/svg+xml')))
  app.get('/ui/app.css', (c) => c.body(STYLE, 200, headers('text/css; charset=utf-8')))
  return app
}
