/**
 * Wake-ups for long-polls (`GET /v1/agent/dispatch?wait=N`): in-memory waiters per host, woken
 * by the applier right after a transaction that queued a dispatch for that host commits — no
 * polling, so a dispatch reaches a parked agent within milliseconds.
 * Invariants: a waiter resolves exactly once ('notified', 'timeout' or 'closed'); `close()`
 * resolves every waiter and every later `wait` at once, so shutdown ends open long-polls.
 */

/** Why a wait ended. */
export type WakeReason = 'notified' | 'timeout' | 'closed'

/** The per-host long-poll waiters. */
export class DispatchHub {
  private readonly waiters = new Map<string, Set<(why: WakeReason) => void>>()
  private closed = false

  /** Waits until `host` is notified, `timeoutMs` passes, `signal` aborts or the hub closes. */
  wait(host: string, timeoutMs: number, signal?: AbortSignal): Promise<WakeReason> {
    if (this.closed || signal?.aborted) return Promise.resolve('closed')
    return new Promise((resolve) => {
      let set = this.waiters.get(host)
      if (set === undefined) this.waiters.set(host, (set = new Set()))
      const finish = (why: WakeReason): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        const s = this.waiters.get(host)
        s?.delete(finish)
        if (s?.size === 0) this.waiters.delete(host)
        resolve(why)
      }
      const onAbort = (): void => finish('closed')
      const timer = setTimeout(() => finish('timeout'), Math.max(0, timeoutMs))
      signal?.addEventListener('abort', onAbort, { once: true })
      set.add(finish)
    })
  }

  /** Wakes every waiter of `host`. */
  notify(host: string): void {
    const set = this.waiters.get(host)
    if (set === undefined) return
    for (const finish of [...set]) finish('notified')
  }

  /** The number of parked long-polls. */
  size(): number {
    let n = 0
    for (const s of this.waiters.values()) n += s.size
    return n
  }

  /** Ends every wait now and refuses new ones (shutdown). */
  close(): void {
    this.closed = true
    for (const set of [...this.waiters.values()]) for (const finish of [...set]) finish('closed')
  }
}
