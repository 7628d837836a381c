/**
 * What one host may store through `POST /v1/agent/events`: a token bucket per host (beyond it,
 * 429 + Retry-After, which agents honour and retry) and a cap on each stored event (every text
 * field cut to `fieldBytes` with a marker saying how much was cut; the whole event at most
 * `eventBytes`, else 413). With the per-host retention of probe results (`Applier`) this bounds
 * what a compromised agent can make the CP write, in rate and in total.
 * Invariants: buckets exist only for authenticated hosts (the route runs behind the identity
 * gate), so their number is bounded by the fleet; cutting is deterministic (a retransmit is cut
 * the same way) and never splits a UTF-8 character.
 */
import type { WireAgentEvent } from '../../proto/agent.ts'

type Bucket = { tokens: number; at: number }

/** A token bucket per host: `ratePerMinute` sustained, `burst` at once. */
export class HostRateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  constructor(
    private readonly ratePerMinute: number,
    private readonly burst: number
  ) {}

  /** Takes one token for `host` at monotonic `nowMs`: 0 if granted, else whole seconds to wait. */
  take(host: string, nowMs: number): number {
    const perMs = this.ratePerMinute / 60_000
    const b = this.buckets.get(host) ?? { tokens: this.burst, at: nowMs }
    b.tokens = Math.min(this.burst, b.tokens + (nowMs - b.at) * perMs)
    b.at = nowMs
    this.buckets.set(host, b)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000))
  }
}

/** The outcome of capping an event. */
export type CappedEvent =
  | { readonly ok: true; readonly event: WireAgentEvent; readonly truncated: boolean }
  | { readonly ok: false; readonly bytes: number }

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** `s` cut to at most `max` UTF-8 bytes, marker included, or `s` itself when it fits. */
export function cutText(s: string, max: number): string {
  const bytes = encoder.encode(s)
  if (bytes.length <= max) return s
  // The marker's length with the whole size is an upper bound of the final marker's.
  let keep = Math.max(0, max - encoder.encode(marker(bytes.length)).length)
  // Back off to a character boundary (continuation bytes are 10xxxxxx).
  while (keep > 0 && (bytes[keep]! & 0xc0) === 0x80) keep--
  return decoder.decode(bytes.subarray(0, keep)) + marker(bytes.length - keep)
}

const marker = (cut: number): string => `…[truncated ${cut} bytes]`

/** Every string of `event` cut to `fieldBytes`; refused when still above `eventBytes`. */
export function capEvent(
  event: WireAgentEvent,
  fieldBytes: number,
  eventBytes: number
): CappedEvent {
  let truncated = false
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const c = cutText(v, fieldBytes)
      if (c !== v) truncated = true
      return c
    }
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
    return v
  }
  // The walk keeps every key and type; only string contents change.
  const capped = walk(event) as WireAgentEvent
  const bytes = encoder.encode(JSON.stringify(capped)).length
  return bytes > eventBytes ? { ok: false, bytes } : { ok: true, event: capped, truncated }
}
