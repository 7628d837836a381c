/**
 * Persistence of the agent's per-rollout host records (`hosts/<rolloutId>.json`): the core
 * `HostRolloutState`, the policy it was dispatched under, and the agent-local bookkeeping the
 * crash-recovery rules need. The reference kept these in memory only and rebuilt them from CP
 * snapshots; persisting them makes seq assignment crash-safe (a seq is never reused for a
 * different event) and lets a restarted agent finish what it started without the CP.
 *
 * Invariants:
 * - Written atomically and durably after the step's events are in the outbox (see mutator/loop.ts).
 * - The policy is the one verified at dispatch time; a rollout keeps it for its whole life even
 *   if its manifest later goes stale, so soak and failure rules never change under a host.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as v from 'valibot'
import { HOST_PHASES, type HostPolicy, type HostRolloutState } from '../core/index.ts'
import { RolloutIdSchema } from '../proto/ids.ts'
import { ensureDir, listDir, removeFile, sweepTmpFiles, writeFileDurable } from '../runtime/durable-fs.ts'

/** Agent-local facts about a record that the core state does not carry. */
export type HostMeta = {
  /** Times the forward switch was fired for this rollout (re-fired once after a crash). */
  readonly activationAttempts: number
  /** Times the rollback was fired for this rollout. */
  readonly rollbackAttempts: number
  /** Whether `currentClosureAtDispatch` came from a CP snapshot rather than this host. */
  readonly priorFromCp: boolean
}

/** A persisted record. */
export type StoredHost = {
  readonly state: HostRolloutState
  readonly policy: HostPolicy
  readonly waveIndex: number
  readonly meta: HostMeta
}

/** The bookkeeping of a fresh record. */
export const NEW_META: HostMeta = { activationAttempts: 0, rollbackAttempts: 0, priorFromCp: false }

const FILE_VERSION = 1

function isStoredHost(x: unknown): x is StoredHost {
  if (typeof x !== 'object' || x === null) return false
  const r = x as Record<string, unknown>
  const s = r['state'] as Record<string, unknown> | undefined
  const p = r['policy'] as Record<string, unknown> | undefined
  const m = r['meta'] as Record<string, unknown> | undefined
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s['rolloutId'] === 'string' &&
    typeof s['targetClosure'] === 'string' &&
    typeof s['lastEventSeq'] === 'number' &&
    HOST_PHASES.includes(s['phase'] as HostRolloutState['phase']) &&
    typeof p === 'object' &&
    p !== null &&
    typeof p['soakMs'] === 'number' &&
    typeof p['sustainedFailureMs'] === 'number' &&
    (p['onHealthFailure'] === 'halt' || p['onHealthFailure'] === 'rollback-and-halt') &&
    typeof r['waveIndex'] === 'number' &&
    typeof m === 'object' &&
    m !== null &&
    typeof m['activationAttempts'] === 'number' &&
    typeof m['rollbackAttempts'] === 'number'
  )
}

/** The `hosts/` directory of the state dir. */
export class HostStore {
  private readonly dir: string

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'hosts')
    ensureDir(this.dir)
    sweepTmpFiles(this.dir)
  }

  private pathOf(rolloutId: string): string {
    if (!v.is(RolloutIdSchema, rolloutId))
      throw new Error(`not a rollout id: ${String(rolloutId).slice(0, 80)}`)
    return join(this.dir, `${rolloutId}.json`)
  }

  /** Persists a record atomically. */
  save(host: StoredHost): void {
    writeFileDurable(
      this.pathOf(host.state.rolloutId),
      `${JSON.stringify({ version: FILE_VERSION, ...host })}\n`
    )
  }

  /** Every readable record, plus the names of unreadable files. */
  loadAll(): { hosts: StoredHost[]; unreadable: string[] } {
    const hosts: StoredHost[] = []
    const unreadable: string[] = []
    for (const name of listDir(this.dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue
      const rid = name.slice(0, -'.json'.length)
      try {
        const parsed = JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as unknown
        if (isStoredHost(parsed) && parsed.state.rolloutId === rid) {
          const { state, policy, waveIndex, meta } = parsed
          hosts.push({ state, policy, waveIndex, meta: { ...NEW_META, ...meta } })
          continue
        }
      } catch {
        // fall through
      }
      unreadable.push(name)
    }
    return { hosts, unreadable }
  }

  /** Deletes a record. */
  remove(rolloutId: string): void {
    removeFile(this.pathOf(rolloutId))
  }
}
