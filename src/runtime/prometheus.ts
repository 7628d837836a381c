/**
 * The Prometheus text exposition format (0.0.4), written by hand for the control plane's and the
 * agent's registries: HELP/TYPE lines, label sets, sample values. A client library would be more
 * code than this.
 * Invariants: label sets render with names sorted and values escaped, so one set always has one
 * text, which the registries use as the series key; values are Prometheus floats (`+Inf`, `NaN`).
 */

/** A series' labels: name → value. */
export type Labels = Readonly<Record<string, string>>

/** The metric types the registries expose. */
export type MetricType = 'counter' | 'gauge' | 'histogram'

/** The content type of a `/metrics` reply. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const NEEDS_ESCAPE = /[\\"\n]/

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

// Called on every CP request (counter + histogram): no sort for the common one-label case and
// no escaping work unless a value needs it.
/** The label set as exposition text, `{a="x",b="y"}`, or `''` when there are no labels. */
export function labelText(labels: Labels): string {
  const keys = Object.keys(labels)
  if (keys.length === 0) return ''
  if (keys.length > 1) keys.sort()
  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    const v = labels[k]!
    out += `${i > 0 ? ',' : ''}${k}="${NEEDS_ESCAPE.test(v) ? escapeLabel(v) : v}"`
  }
  return `${out}}`
}

/** `text` (from `labelText`) with one more label last, as histogram buckets add `le`. */
export function withLabel(text: string, name: string, value: string): string {
  const label = `${name}="${NEEDS_ESCAPE.test(value) ? escapeLabel(value) : value}"`
  return text === '' ? `{${label}}` : `${text.slice(0, -1)},${label}}`
}

/** A sample value: Prometheus spells the infinities `+Inf`/`-Inf`. */
export function formatValue(n: number): string {
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

/** The `# HELP` and `# TYPE` lines opening a metric family. */
export function familyHeader(name: string, type: MetricType, help: string): [string, string] {
  return [
    `# HELP ${name} ${help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}`,
    `# TYPE ${name} ${type}`,
  ]
}

/** One sample line; `labels` is a `labelText`. */
export function sampleLine(name: string, labels: string, value: number): string {
  return `${name}${labels} ${formatValue(value)}`
}

/** The exposition text of rendered lines (newline-terminated, as the format requires). */
export function exposition(lines: readonly string[]): string {
  return `${lines.join('\n')}\n`
}

/**
 * A label value from our own vocabulary, lowercased: `BadSignature` → `bad-signature`,
 * `ProbeResult` → `probe-result`, `pending-handshakes` unchanged; PromQL matchers and alert
 * rules then never depend on a type name's capitals.
 */
export function labelWord(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()
}

// The runtime's own Response, taken when this module loads: the control plane command lets
// `@hono/node-server` replace the global one with a lightweight class Bun.serve cannot send.
const NativeResponse = globalThis.Response

/** A running plain-HTTP `/metrics` listener. */
export type ExpositionServer = { readonly port: number; stop(): void }

/**
 * Serves `GET /metrics` (the text of `render`, called per scrape) on `hostname:port` over plain
 * HTTP, everything else 404: the `--metrics-listen` of both daemons, loopback by convention.
 */
export function serveExposition(
  listen: { readonly hostname: string; readonly port: number },
  render: () => string
): ExpositionServer {
  const server = Bun.serve({
    hostname: listen.hostname,
    port: listen.port,
    fetch(req) {
      const url = new URL(req.url)
      if (req.method !== 'GET' || url.pathname !== '/metrics') {
        return new NativeResponse('not found\n', { status: 404 })
      }
      return new NativeResponse(render(), {
        headers: { 'content-type': EXPOSITION_CONTENT_TYPE },
      })
    },
  })
  return { port: server.port ?? listen.port, stop: () => void server.stop(true) }
}
