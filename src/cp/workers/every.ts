/**
 * The shape every CP worker has (something to stop), and the simplest worker: a function run on
 * a fixed cadence. Workers only submit inputs to the mutator (or read state); none mutates.
 */

/** A running worker. */
export type Worker = { stop(): void }

/** Runs `run` every `everyMs`; `unref` lets a process exit while it is the only timer left. */
export function every(
  everyMs: number,
  run: () => void,
  opts: { readonly unref?: boolean } = {}
): Worker {
  const timer = setInterval(run, everyMs)
  if (opts.unref === true) timer.unref?.()
  return { stop: () => clearInterval(timer) }
}
