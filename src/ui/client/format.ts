/** Renderings shared by the views: host states with a glyph and a word, times, durations. */
import { now } from './clock.ts'

/** A host's state as the page shows it: a CSS class, a glyph and a word (never color alone). */
export type Look = { cls: string; glyph: string; word: string }

const LOOKS: Record<string, Look> = {
  Converged: { cls: 'ok', glyph: '✓', word: 'converged' },
  Soaking: { cls: 'soak', glyph: '◷', word: 'soaking' },
  Activating: { cls: 'busy', glyph: '▶', word: 'activating' },
  Pending: { cls: 'wait', glyph: '·', word: 'pending' },
  Deferred: { cls: 'wait', glyph: '‖', word: 'awaiting reboot' },
  Failed: { cls: 'bad', glyph: '✗', word: 'failed' },
  Reverted: { cls: 'bad', glyph: '↺', word: 'rolled back' },
  Skipped: { cls: 'idle', glyph: '»', word: 'skipped' },
}

/** The look of a host phase (unknown phases are shown by name). */
export function look(phase: string | null): Look {
  if (phase === null) return { cls: 'idle', glyph: '–', word: 'idle' }
  return LOOKS[phase] ?? { cls: 'idle', glyph: '?', word: phase.toLowerCase() }
}

/** A duration in words: 4m10s, 2h05m. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/** "3m10s ago" for a past time. */
export function ago(iso: string | null): string {
  if (iso === null) return 'never'
  const t = Date.parse(iso)
  return Number.isNaN(t) ? iso : `${duration(now() - t)} ago`
}

/** Options of `clock`: seconds (event logs, where many rows share a minute), the time zone. */
export type ClockOpts = { seconds?: boolean; zone?: boolean }

/** HH:MM (or HH:MM:SS) in the browser's time zone, with the date when it is not today. */
export function clock(iso: string | null, opts: ClockOpts = {}): string {
  if (iso === null) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const hm = d.toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    ...(opts.seconds ? { second: '2-digit' } : {}),
    ...(opts.zone ? { timeZoneName: 'short' } : {}),
    // h23, not hour12: false, which some engines render as 24:05 after midnight.
    hourCycle: 'h23',
  })
  if (d.toDateString() === new Date(now()).toDateString()) return hm
  // The date in the same zone as the time (not the UTC date of a local time).
  const date = [d.getFullYear(), d.getMonth() + 1, d.getDate()]
    .map((n) => String(n).padStart(2, '0'))
    .join('-')
  return `${date} ${hm}`
}

/** "1 host", "2 hosts". */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/**
 * A store path or closure id for display (the full text belongs in a title): the name after the
 * hash in full, since it is what tells closures apart, and the hash cut to its first 8 letters.
 */
export function short(closure: string | null): string {
  if (closure === null) return '—'
  const base = closure.split('/').pop() ?? closure
  const m = /^([0-9a-z]{32})-(.+)$/.exec(base)
  if (m !== null) return `${m[1]!.slice(0, 8)}…-${m[2]}`
  return base.length > 24 ? `${base.slice(0, 12)}…` : base
}

/** A rollout id as `channel@abcdef12`: the prefix form the CLI accepts. */
export function shortRollout(id: string | null): string {
  if (id === null) return '—'
  const at = id.lastIndexOf('@')
  if (at < 0) return id.length > 24 ? `${id.slice(0, 12)}…` : id
  const ref = id.slice(at + 1)
  return ref.length > 8 ? `${id.slice(0, at + 1)}${ref.slice(0, 8)}` : id
}

const WAVE_WORDS: Record<string, string> = { 'not-started': 'not started' }

/** A wave's state in words; a word the page does not know is shown as the API says it. */
export const waveWord = (state: string): string => WAVE_WORDS[state] ?? state

/** Key: value pairs of an event's details, one line, without the values the page already shows. */
export function details(d: Record<string, unknown>, shown: string | null = null): string {
  return Object.entries(d)
    .filter(([k, v]) => k !== 'kind' && v !== null && v !== undefined && v !== shown)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ')
}
