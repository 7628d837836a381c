/**
 * The dashboard's files and the Hono app that serves them (at `/ui/` on the control plane and
 * on `nixfleet ui`'s loopback listener). Everything is inlined at build time (no CDN, no fonts,
 * no inline script), and every answer carries a strict Content-Security-Policy so the page can
 * only load its own script and style and talk to its own origin.
 */
import { Hono } from 'hono'
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
<link rel="stylesheet" href="app.css">
<script type="module" src="app.js"></script>
</head>
<body>
<noscript>The NixFleet dashboard needs JavaScript; the same data is at /v1/hosts and /v1/rollouts.</noscript>
<div id="app"></div>
</body>
</html>
`

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

/** The dashboard's files under whatever path the caller mounts it (`/ui`). */
export function uiFiles(): Hono {
  const app = new Hono()
  app.get('/', (c) => c.body(INDEX, 200, headers('text/html; charset=utf-8')))
  app.get('/app.js', (c) => c.body(SCRIPT, 200, headers('text/javascript; charset=utf-8')))
  app.get('/app.css', (c) => c.body(STYLE, 200, headers('text/css; charset=utf-8')))
  return app
}
