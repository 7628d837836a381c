/**
 * The advance tick worker: every 5 s it submits a `Tick` (soak, sustained failure and
 * housekeeping are decided by the mutator). A full queue skips one tick; the next one comes.
 */
import { sleep } from '../timing.ts'

/** Submits a tick every `intervalMs` until `signal` aborts. */
export async function runTicker(
  deps: { readonly intervalMs: number; readonly submitTick: () => boolean },
  signal: AbortSignal
): Promise<void> {
  while (!signal.aborted) {
    await sleep(deps.intervalMs, signal)
    if (!signal.aborted) deps.submitTick()
  }
}
