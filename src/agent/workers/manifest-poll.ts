/**
 * The manifest poll worker: every 30 s (first at start) the verified release view is refreshed
 * from the CP (fleet.resolved and the host's own channel manifest, see `manifests.ts`).
 * Invariant: a failed poll never stops the worker; each distinct failure is logged once, and
 * the recovery once.
 */
import type { Logger } from '../../runtime/log.ts'
import { sleep } from '../timing.ts'

/** What the worker polls. */
export type ManifestPollDeps = {
  readonly poll: (signal: AbortSignal) => Promise<{ ok: true } | { ok: false; error: string }>
  readonly intervalMs: number
  readonly log: Logger
}

/** Polls until `signal` aborts. */
export async function runManifestPoll(deps: ManifestPollDeps, signal: AbortSignal): Promise<void> {
  let lastError: string | undefined
  while (!signal.aborted) {
    const p = await deps.poll(signal)
    if (signal.aborted) break
    if (!p.ok && p.error !== lastError) deps.log.warn('manifest poll failed', { reason: p.error })
    if (p.ok && lastError !== undefined) deps.log.info('manifest poll recovered')
    lastError = p.ok ? undefined : p.error
    await sleep(deps.intervalMs, signal)
  }
}
