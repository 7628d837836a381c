/**
 * `BoundedQueue<T>`: the only way work reaches a process's single mutator. Producers call
 * `tryPush` and never wait: a full queue is reported at once (HTTP handlers answer 503 with
 * `Retry-After`). The consumer awaits `pull`. Invariant: the queue never holds more than its
 * named capacity, and a closed queue accepts nothing and wakes its consumer with `undefined`.
 */

/** A FIFO with a fixed capacity, one consumer and non-blocking producers. */
export class BoundedQueue<T> {
  private readonly items: T[] = []
  private head = 0
  private waiter: ((item: T | undefined) => void) | undefined
  private closed = false

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be ≥ 1')
  }

  /** The number of queued items. */
  get size(): number {
    return this.items.length - this.head
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.closed
  }

  /** Enqueues `item`; false when the queue is full or closed. */
  tryPush(item: T): boolean {
    if (this.closed) return false
    if (this.waiter) {
      const w = this.waiter
      this.waiter = undefined
      w(item)
      return true
    }
    if (this.size >= this.capacity) return false
    this.items.push(item)
    return true
  }

  /** The next item without taking it, or `undefined` when none is queued. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : (this.items[this.head] as T)
  }

  /** The next item if one is queued now, else `undefined` (never waits). */
  tryPull(): T | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.head++] as T
    // Compact occasionally so a long-lived queue does not keep a growing dead prefix.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head)
      this.head = 0
    }
    return item
  }

  /** The next item, waiting for one; `undefined` once the queue is closed and drained. */
  pull(): Promise<T | undefined> {
    if (this.size > 0) return Promise.resolve(this.tryPull() as T)
    if (this.closed) return Promise.resolve(undefined)
    if (this.waiter) return Promise.reject(new Error('BoundedQueue supports a single consumer'))
    return new Promise((resolve) => {
      this.waiter = resolve
    })
  }

  /** Stops accepting items; the consumer drains what is queued, then gets `undefined`. */
  close(): void {
    this.closed = true
    if (this.waiter && this.size === 0) {
      const w = this.waiter
      this.waiter = undefined
      w(undefined)
    }
  }
}
