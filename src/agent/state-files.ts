/**
 * The schemas of the files the agent writes for itself under its state directory: host records
 * (`hosts/<rolloutId>.json`), queued events (`outbox/`, `sent/`, `dead-letter/`) and the
 * anti-rollback marks (`anti-rollback.json`), and the reader that checks them when they are
 * read back. A file that does not match is reported with its path and the first fields at
 * fault (never its contents); what happens next is the owner's crash-recovery rule (a host
 * record is ignored and rebuilt from the CP, an event file is skipped, lost marks re-anchor).
 *
 * Invariant: each schema's output is the type the agent wrote (checked at compile time against
 * the core types), so nothing read back needs a cast.
 */
import { readFileSync } from 'node:fs'
import * as v from 'valibot'
import type {
  HostPolicy,
  HostRolloutState,
  OutboundAgentEvent,
  ProbeDecl,
  ProbeRecord,
  ProbeSubResult,
} from '../core/index.ts'
import type { HighWaterMark } from '../core/release/anti-rollback.ts'
import { summarizeIssues } from '../proto/issues.ts'
import { HOST_PHASES } from '../proto/phases.ts'
import { fsReason } from '../runtime/durable-fs.ts'
import type { FileResult } from '../runtime/json-file.ts'

const ms = v.number()
const msOrNull = v.nullable(ms)
const count = v.pipe(v.number(), v.integer(), v.minValue(0))
const text = v.string()
const textOrNull = v.nullable(text)
const mode = v.picklist(['enforce', 'observe', 'disabled'])
const status = v.picklist(['pass', 'fail'])
const onHealthFailure = v.picklist(['halt', 'rollback-and-halt'])

const ProbeDeclSchema: v.GenericSchema<unknown, ProbeDecl> = v.object({
  probeName: text,
  kind: text,
  mode,
})

const ProbeRecordSchema: v.GenericSchema<unknown, ProbeRecord> = v.object({
  status,
  mode,
  lastObservedAt: ms,
  lastPassAt: msOrNull,
  failingSince: msOrNull,
  failureReason: textOrNull,
})

const ProbeSubResultSchema: v.GenericSchema<unknown, ProbeSubResult> = v.object({
  controlId: text,
  status,
  framework: text,
  article: textOrNull,
  effectiveMode: mode,
  overrideReason: textOrNull,
})

/** Every field of the core host record. */
export const HostRolloutStateSchema: v.GenericSchema<unknown, HostRolloutState> = v.object({
  rolloutId: text,
  hostname: text,
  channel: text,
  phase: v.picklist(HOST_PHASES),
  targetClosure: text,
  currentClosureAtDispatch: textOrNull,
  currentClosure: textOrNull,
  revertedTo: textOrNull,
  dispatchedAt: ms,
  dispatchAckedAt: msOrNull,
  activationStartedAt: msOrNull,
  activationCompletedAt: msOrNull,
  activationFailedAt: msOrNull,
  probeObservedFirstAt: msOrNull,
  probeFailureFirstAt: msOrNull,
  soakDueAt: msOrNull,
  convergedAt: msOrNull,
  failedAt: msOrNull,
  policyApplied: v.nullable(onHealthFailure),
  revertedAt: msOrNull,
  probeTopology: v.nullable(v.array(ProbeDeclSchema)),
  probes: v.record(text, ProbeRecordSchema),
  lastEventSeq: count,
})

const HostPolicySchema: v.GenericSchema<unknown, HostPolicy> = v.object({
  onHealthFailure,
  soakMs: ms,
  sustainedFailureMs: ms,
})

/** The version written into every host record file. */
export const HOST_FILE_VERSION = 1

/** `hosts/<rolloutId>.json`. */
export const HostFileSchema = v.object({
  version: v.literal(HOST_FILE_VERSION),
  state: HostRolloutStateSchema,
  policy: HostPolicySchema,
  waveIndex: count,
  meta: v.object({
    activationAttempts: count,
    rollbackAttempts: count,
    // Added after the first release of the file: older records read as "the host's own".
    priorFromCp: v.optional(v.boolean(), false),
  }),
})

const seq = count
const event = <K extends string, E extends v.ObjectEntries>(kind: K, entries: E) =>
  v.object({ kind: v.literal(kind), seq, ...entries })

/** The twelve outbound agent events (times in epoch ms), by `kind`. */
export const OutboundAgentEventSchema: v.GenericSchema<unknown, OutboundAgentEvent> = v.variant(
  'kind',
  [
    event('DispatchAck', { currentClosureAtDispatch: text, receivedAt: ms }),
    event('ActivationStarted', { startedAt: ms, switchMethod: text }),
    event('ActivationCompleted', {
      observedCurrentClosure: text,
      exitCode: v.number(),
      completedAt: ms,
    }),
    event('ActivationDeferred', { component: text, deferredAt: ms }),
    event('ActivationFailed', { exitCode: v.number(), stderrTail: text, failedAt: ms }),
    event('ProbeTopologyDeclared', { probes: v.array(ProbeDeclSchema), declaredAt: ms }),
    event('ProbeObservedFirst', { probeName: text, mode, observedAt: ms }),
    event('ProbeResult', {
      probeName: text,
      mode,
      status,
      observedAt: ms,
      failureReason: textOrNull,
      subResults: v.nullable(v.array(ProbeSubResultSchema)),
    }),
    event('ProbeFailureFirst', { probeName: text, mode, firstFailedAt: ms }),
    event('Failed', {
      failedAt: ms,
      sustainedDurationSecs: v.number(),
      failingProbes: v.array(text),
      policyApplied: onHealthFailure,
    }),
    event('RollbackComplete', { revertedToClosure: text, exitCode: v.number(), completedAt: ms }),
    event('Converged', { convergedAt: ms, currentClosure: text }),
  ]
)

/** An event file in `outbox/`, `sent/` or `dead-letter/` (a dead letter's reason is not read). */
export const OutboxEntrySchema = v.pipe(
  v.object({
    rolloutId: text,
    seq,
    kind: text,
    durable: v.boolean(),
    createdAt: ms,
    event: OutboundAgentEventSchema,
  }),
  v.check(
    (e) => e.event.kind === e.kind && e.event.seq === e.seq,
    'event: kind and seq differ from the entry'
  )
)

const HighWaterMarkSchema: v.GenericSchema<unknown, HighWaterMark> = v.object({
  signedAtMs: ms,
  ciCommit: textOrNull,
})

/** `anti-rollback.json`. */
export const MarksFileSchema = v.object({
  version: v.literal(1),
  marks: v.record(text, HighWaterMarkSchema),
  reanchoredAt: msOrNull,
})

/**
 * Reads one of the agent's own files and checks it against `schema`. Plain `JSON.parse`, not the
 * strict reader of operator files: the agent wrote these itself with `JSON.stringify`, and text
 * it stores (a stderr tail, a probe's failure reason) may be cut inside a surrogate pair, which
 * the strict reader would refuse.
 */
export function readStateFile<T>(
  path: string,
  schema: v.GenericSchema<unknown, T>,
  what: string
): FileResult<T> {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    const why = e instanceof SyntaxError ? 'not JSON' : fsReason(e)
    return { ok: false, message: `${what} ${path}: ${why}` }
  }
  const r = v.safeParse(schema, raw)
  return r.success
    ? { ok: true, value: r.output }
    : { ok: false, message: `${what} ${path}: ${summarizeIssues(r.issues)}` }
}
