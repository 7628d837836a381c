/**
 * Persistence of the agent's per-rollout host records (`hosts/<rolloutId>.json`): the core
 * `HostRolloutState`, the policy it was dispatched under, and the agent-local bookkeeping the
 * crash-recovery rules need. The reference kept these in memory only and rebuilt them from CP
 * snapshots; persisting them makes seq assignment crash-safe (a seq is never reused for a
 * different event) and lets a restarted agent finish what it started without the CP.
 *
 * Invariants:
 * - Validated in full when read (`state-files.ts`); an unreadable record is reported and
 *   ignored (the CP's snapshot rebuilds it).
 * - Written atomically and durably after the step's events are in the outbox (see mutator/loop.ts).
 * - The policy is the one verified at dispatch time; a rollout keeps it for its whole life even
 *   if its manifest later goes stale, so soak and failure rules never change under a host.
 */
import { join } from 'node:path'
import * as v from 'valibot'
import type { HostPolicy, HostRolloutState } from '../core/index.ts'
import { RolloutIdSchema } from '../proto/ids.ts'
import {
  ensureDir,
  listDir,
  removeFile,
  sweepTmpFiles,
  writeFileDurable,
} from '../runtime/durable-fs.ts'
import { HOST_FILE_VERSION, HostFileSchema, readStateFile } from './state-files.ts'

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
      `${JSON.stringify({ version: HOST_FILE_VERSION, ...host })}\n`
    )
  }

  /** Every readable record, plus the unreadable files with the reason each is unusable. */
  loadAll(): { hosts: StoredHost[]; unreadable: { file: string; reason: string }[] } {
    const hosts: StoredHost[] = []
    const unreadable: { file: string; reason: string }[] = []
    for (const name of listDir(this.dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue
      const rid = name.slice(0, -'.json'.length)
      const r = readStateFile(join(this.dir, name), HostFileSchema, 'host record')
      if (!r.ok) unreadable.push({ file: name, reason: r.message })
      else if (r.value.state.rolloutId !== rid)
        unreadable.push({
          file: name,
          reason: `host record ${name} is of rollout ${r.value.state.rolloutId}`,
        })
      else {
        const { state, policy, waveIndex, meta } = r.value
        hosts.push({ state, policy, waveIndex, meta })
      }
    }
    return { hosts, unreadable }
  }

  /** Deletes a record. */
  remove(rolloutId: string): void {
    removeFile(this.pathOf(rolloutId))
  }
}
