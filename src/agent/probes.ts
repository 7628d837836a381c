/**
 * The probe runners (spec runtime.md §4.1–4.2, RFC-0007 strict mode): http, tcp, exec and
 * evidence (a compliance evidence file signed by the host's SSH key, checked per control).
 * Invariants: every error is a `fail` with a reason (there is no "unknown" status); reasons are
 * truncated to 512 characters; every runner has a deadline; an unknown kind fails and an
 * unknown mode is `enforce` (fail-closed).
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import * as v from 'valibot'
import type { ProbeMode, ProbeSubResult } from '../core/index.ts'
import { canonicalize, JsonSyntaxError } from '../crypto/canonical-json.ts'
import { ed25519Verify } from '../crypto/ed25519.ts'
import { fromBase64 } from '../lib/bytes.ts'
import { EvidenceFileSchema, type ProbeDeclaration } from '../proto/agent.ts'
import { summarizeIssues } from '../proto/issues.ts'
import { runCommand, tail } from './exec.ts'

/** The result of one probe run. */
export type ProbeOutcome = {
  readonly status: 'pass' | 'fail'
  readonly failureReason: string | null
  readonly subResults: readonly ProbeSubResult[] | null
}

/** What runners need besides the declaration. */
export type ProbeContext = {
  readonly machineId: string
  /** The host's ed25519 public key (evidence signatures), or why it is unavailable. */
  readonly hostPublicKey: () => { ok: true; key: Uint8Array } | { ok: false; error: string }
  readonly signal?: AbortSignal | undefined
}

/** The minimum probe interval (RFC-0007: probes must not hammer the host). */
export const MIN_INTERVAL_SECS = 5
// Reference defaults: http and exec 10 s, tcp connect 5 s.
const DEFAULT_TIMEOUT_SECS = 10
const DEFAULT_CONNECT_TIMEOUT_SECS = 5
const MAX_REASON = 512

/** The reason truncated to 512 characters with the reference's marker. */
export function truncateReason(reason: string): string {
  return reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}...[truncated]` : reason
}

/** The declared mode, `enforce` for anything unknown (fail-closed). */
export function modeOf(mode: string | undefined): ProbeMode {
  return mode === 'observe' || mode === 'disabled' ? mode : 'enforce'
}

const pass = (subResults: readonly ProbeSubResult[] | null = null): ProbeOutcome => ({
  status: 'pass',
  failureReason: null,
  subResults,
})
const fail = (
  reason: string,
  subResults: readonly ProbeSubResult[] | null = null
): ProbeOutcome => ({
  status: 'fail',
  failureReason: truncateReason(reason),
  subResults,
})

function secs(value: number | undefined, fallback: number): number {
  return (value !== undefined && value > 0 ? value : fallback) * 1000
}

async function runHttp(decl: ProbeDeclaration, ctx: ProbeContext): Promise<ProbeOutcome> {
  if (!decl.url) return fail('http probe has no url')
  const timeoutMs = secs(decl.timeoutSecs, DEFAULT_TIMEOUT_SECS)
  const timeout = AbortSignal.timeout(timeoutMs)
  try {
    const res = await fetch(decl.url, {
      signal: ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout,
    })
    await res.body?.cancel().catch(() => {})
    return res.status === decl.expectStatus
      ? pass()
      : fail(`HTTP ${res.status}, expected ${decl.expectStatus}`)
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string }
    if (err.name === 'TimeoutError' || err.name === 'AbortError') {
      return fail(`no response within ${timeoutMs / 1000} s`)
    }
    return fail(`request failed: ${err.code ?? err.message ?? String(e)}`)
  }
}

function runTcp(decl: ProbeDeclaration): Promise<ProbeOutcome> {
  if (decl.port === undefined) return Promise.resolve(fail('tcp probe has no port'))
  const timeoutMs = secs(decl.connectTimeoutSecs, DEFAULT_CONNECT_TIMEOUT_SECS)
  const host = decl.host
  const port = decl.port
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const finish = (outcome: ProbeOutcome): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(
      () => finish(fail(`no connection to ${host}:${port} within ${timeoutMs / 1000} s`)),
      timeoutMs
    )
    socket.once('connect', () => finish(pass()))
    socket.once('error', (e: Error & { code?: string }) =>
      finish(fail(`connect to ${host}:${port} failed: ${e.code ?? e.message}`))
    )
  })
}

async function runExec(decl: ProbeDeclaration, ctx: ProbeContext): Promise<ProbeOutcome> {
  const cmd = decl.command
  if (cmd === undefined || (Array.isArray(cmd) && cmd.length === 0) || cmd === '') {
    return fail('exec probe has no command')
  }
  const argv = typeof cmd === 'string' ? ['/bin/sh', '-c', cmd] : cmd
  const timeoutMs = secs(decl.timeoutSecs, DEFAULT_TIMEOUT_SECS)
  const r = await runCommand(argv, { timeoutMs, signal: ctx.signal })
  if (r.exitCode === 0) return pass()
  const stderr = tail(r.stderr, 3, 400)
  const why =
    r.spawnError !== undefined
      ? `could not start ${argv[0]}: ${r.spawnError}`
      : r.timedOut
        ? `timed out after ${timeoutMs / 1000} s`
        : r.exitCode === null
          ? `killed by ${r.signal ?? 'a signal'}`
          : `exit status ${r.exitCode}`
  return fail(stderr ? `${why}: ${stderr}` : why)
}

/** Runs an evidence probe: signature, schema, host binding, then one sub-result per control. */
export function runEvidence(decl: ProbeDeclaration, ctx: ProbeContext): ProbeOutcome {
  const path = decl.evidencePath
  let bytes: Uint8Array
  let sigText: string
  try {
    bytes = new Uint8Array(readFileSync(path))
  } catch (e) {
    return fail(`cannot read evidence ${path}: ${(e as { code?: string }).code ?? 'read error'}`)
  }
  try {
    sigText = readFileSync(`${path}.sig`, 'utf8').trim()
  } catch (e) {
    return fail(
      `cannot read evidence signature ${path}.sig: ${(e as { code?: string }).code ?? 'read error'}`
    )
  }
  const sig = fromBase64(sigText)
  if (!sig || sig.length !== 64) return fail('evidence signature is not base64 of 64 bytes')
  const key = ctx.hostPublicKey()
  if (!key.ok) return fail(`no host key to verify evidence: ${key.error}`)
  let canonical: Uint8Array
  try {
    canonical = canonicalize(bytes)
  } catch (e) {
    return fail(`evidence is not JSON: ${e instanceof JsonSyntaxError ? e.message : 'parse error'}`)
  }
  // Policy: the signature is checked over the canonical bytes before any field is believed.
  if (!ed25519Verify(sig, canonical, key.key))
    return fail('evidence signature does not verify with the host key')
  const parsed = v.safeParse(EvidenceFileSchema, JSON.parse(new TextDecoder().decode(canonical)))
  if (!parsed.success) return fail(`evidence schema: ${summarizeIssues(parsed.issues)}`)
  const ev = parsed.output
  if (ev.schemaVersion !== 1)
    return fail(`evidence schemaVersion ${ev.schemaVersion} is not supported`)
  if (ev.hostname !== ctx.machineId) return fail(`evidence is for host ${ev.hostname.slice(0, 64)}`)

  const probeMode = modeOf(decl.mode)
  const subs: ProbeSubResult[] = []
  for (const control of ev.controls) {
    let mode: ProbeMode
    let overrideReason: string | null = null
    if (decl.controls !== undefined) {
      // Controls mode: only listed controls count, each with its own mode.
      const m = decl.controls[control.controlId]
      if (m === undefined) continue
      mode = modeOf(m)
    } else {
      const o = decl.controlOverrides[control.controlId]
      mode = o ? modeOf(o.mode) : probeMode
      overrideReason = o?.reason ?? null
    }
    if (mode === 'disabled') continue
    const status = control.passed ? 'pass' : 'fail'
    const frameworks = Object.entries(control.frameworkArticles).filter(
      ([fw]) => decl.framework === undefined || fw === decl.framework
    )
    if (decl.framework !== undefined && frameworks.length === 0) continue
    const pairs: [string, string | null][] = frameworks.length
      ? frameworks.flatMap(([fw, arts]) =>
          arts.length ? arts.map((a): [string, string | null] => [fw, a]) : [[fw, null]]
        )
      : [['', null]]
    for (const [framework, article] of pairs) {
      subs.push({
        controlId: control.controlId,
        status,
        framework,
        article,
        effectiveMode: mode,
        overrideReason,
      })
    }
  }
  if (subs.length === 0) return fail('no evidence control matched this probe')
  const failing = [
    ...new Set(
      subs
        .filter((s) => s.effectiveMode === 'enforce' && s.status === 'fail')
        .map((s) => s.controlId)
    ),
  ]
  return failing.length === 0 ? pass(subs) : fail(`controls failing: ${failing.join(', ')}`, subs)
}

/** Runs one probe of any kind. */
export async function runProbe(decl: ProbeDeclaration, ctx: ProbeContext): Promise<ProbeOutcome> {
  try {
    switch (decl.kind) {
      case 'http':
        return await runHttp(decl, ctx)
      case 'tcp':
        return await runTcp(decl)
      case 'exec':
        return await runExec(decl, ctx)
      case 'evidence':
        return runEvidence(decl, ctx)
      default:
        return fail(`unknown probe kind ${decl.kind.slice(0, 40)}`)
    }
  } catch (e) {
    return fail(`probe error: ${e instanceof Error ? e.message : String(e)}`)
  }
}
