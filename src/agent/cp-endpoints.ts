/**
 * The control planes the agent may talk to, and the one it talks to now (`failover.ts` decides,
 * this module does the looking up, the waiting, the logging and the metrics). Every request of
 * every worker goes through one instance, so a switch moves the heartbeat, the event drainer, the
 * long-poll and the manifest poll together.
 *
 * Invariants:
 * - A URL whose name resolves to several addresses is tried address by address: the connection
 *   goes to one address while TLS still checks the name (`serverName`, and the Host header).
 *   A name with one address, an IP literal, or a name that does not resolve is used as is.
 * - One URL used by name (the usual single control plane) never switches: failures are left to
 *   the workers' own retries, as before there were several.
 * - One info line and one counter increment per switch; none per failed request.
 */
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { Logger } from '../runtime/log.ts'
import type { ClientError } from './cp-errors.ts'
import {
  afterFailure,
  afterSuccess,
  FAILOVER_CAP_MS,
  failoverReason,
  initialFailover,
  type FailoverState,
} from './failover.ts'
import { M, type Metrics } from './metrics.ts'
import { systemTimers, type Timers } from './timing.ts'

/** The addresses a name resolves to, in the resolver's order of preference. */
export type Resolver = (hostname: string) => Promise<readonly string[]>

/** The system resolver (getaddrinfo, so /etc/hosts and the system's preferences apply). */
export const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true })).map((a) => a.address)

/** What the endpoints use besides the URLs; every part has a real default. */
export type FailoverDeps = {
  /** Uniform in [0, 1): the jitter of the backoff. */
  readonly random?: () => number
  readonly timers?: Timers
  readonly resolve?: Resolver
  /** The backoff cap (at most 30 s). */
  readonly capMs?: number
  readonly log?: Logger
  readonly metrics?: Metrics
}

/** One place to send a request to. */
export type Target = {
  /** The configured base URL (`https://host:port`). */
  readonly url: string
  /** The base the request is sent to: the URL, or the URL with its host replaced by an address. */
  readonly base: string
  /** Set when pinned to an address: the name TLS verifies (and SNI carries). */
  readonly serverName: string | undefined
  /** Set when pinned to an address: the Host header (the URL's host and port). */
  readonly host: string | undefined
  /** Which target this is within one pass (URL index / address index). */
  readonly key: string
  readonly epoch: number
}

// A name's addresses are looked up within 10 s, getaddrinfo's usual worst case with one dead
// resolver; past it the URL is used by name.
const LOOKUP_TIMEOUT_MS = 10_000

const hostOf = (u: URL): string => u.hostname.replace(/^\[|\]$/g, '')

/** The configured control planes and the current one. */
export class ControlPlaneEndpoints {
  private readonly urls: readonly URL[]
  private state: FailoverState = initialFailover
  /** Per URL: its addresses (empty: used by name), or undefined until looked up. */
  private readonly addrs: (readonly string[] | undefined)[]
  private notBeforeMs = 0
  private readonly lookups = new Map<number, Promise<void>>()
  private readonly random: () => number
  private readonly timers: Timers
  private readonly resolve: Resolver
  private readonly capMs: number

  constructor(
    urls: readonly string[],
    private readonly deps: FailoverDeps = {}
  ) {
    if (urls.length === 0) throw new Error('no control-plane URL')
    this.urls = urls.map((u) => new URL(u.replace(/\/+$/, '')))
    this.addrs = this.urls.map((u) => (isIP(hostOf(u)) ? [] : undefined))
    this.random = deps.random ?? Math.random
    this.timers = deps.timers ?? systemTimers
    this.resolve = deps.resolve ?? systemResolver
    this.capMs = Math.min(FAILOVER_CAP_MS, deps.capMs ?? FAILOVER_CAP_MS)
    this.publish()
  }

  /** The URL in use now (for logs). */
  get currentUrl(): string {
    return baseOf(this.urls[this.state.url]!)
  }

  /** Whether failures can move anywhere: several URLs, or one name with several addresses. */
  private get fixed(): boolean {
    return this.urls.length === 1 && (this.addrs[0]?.length ?? 0) <= 1
  }

  /** The target of the next request, after any backoff in progress (cut short by `signal`). */
  async current(signal?: AbortSignal): Promise<Target> {
    const wait = this.notBeforeMs - this.timers.monotonicMs()
    if (wait > 0) await this.timers.sleep(wait, signal)
    const url = this.state.url
    if (this.addrs[url] === undefined) await this.lookUp(url)
    // Another request's failure may have moved the agent during the lookup: use where it is now.
    return this.targetOf(this.state)
  }

  private lookUp(index: number): Promise<void> {
    // Concurrent requests share one lookup of a URL.
    let pending = this.lookups.get(index)
    if (pending === undefined) {
      pending = this.lookUpNow(index).finally(() => this.lookups.delete(index))
      this.lookups.set(index, pending)
    }
    return pending
  }

  private async lookUpNow(index: number): Promise<void> {
    const u = this.urls[index]!
    let found: readonly string[] = []
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      // A resolver that hangs must not hold every request: past the limit, fetch resolves.
      const limit = new Promise<readonly string[]>((resolve) => {
        timer = setTimeout(() => resolve([]), LOOKUP_TIMEOUT_MS)
      })
      found = [...new Set(await Promise.race([this.resolve(hostOf(u)), limit]))]
    } catch {
      // Left to the request: it names the resolution error, and the failure moves the agent on.
    } finally {
      clearTimeout(timer)
    }
    this.addrs[index] = found.length > 1 ? found : []
  }

  private targetOf(s: FailoverState): Target {
    const u = this.urls[s.url]!
    const addrs = this.addrs[s.url] ?? []
    const url = baseOf(u)
    const key = `${s.url}/${s.addr}`
    const addr = addrs[Math.min(s.addr, addrs.length - 1)]
    if (addrs.length === 0 || addr === undefined)
      return { url, base: url, serverName: undefined, host: undefined, key, epoch: s.epoch }
    const pinned = new URL(url)
    pinned.hostname = isIP(addr) === 6 ? `[${addr}]` : addr
    return {
      url,
      base: baseOf(pinned),
      serverName: hostOf(u),
      host: u.host,
      key,
      epoch: s.epoch,
    }
  }

  /** The key of the target the next request goes to (to end a pass that came full circle). */
  get nextKey(): string {
    return `${this.state.url}/${this.state.addr}`
  }

  /**
   * Records how a request to `target` ended: `failure` is its error (or the 502/503/504 it got),
   * undefined when the control plane answered. Returns whether the failure moves the agent on.
   */
  report(target: Target, failure: ClientError | undefined): boolean {
    if (failure === undefined) {
      if (target.epoch === this.state.epoch) this.state = afterSuccess(this.state)
      return false
    }
    const reason = failoverReason(failure)
    if (reason === undefined) {
      if (target.epoch === this.state.epoch) this.state = afterSuccess(this.state)
      return false
    }
    if (this.fixed) return true
    const move = afterFailure(this.state, {
      epoch: target.epoch,
      urlCount: this.urls.length,
      addrCount: Math.max(1, this.addrs[this.state.url]?.length ?? 0),
      random: this.random(),
      capMs: this.capMs,
    })
    if (!move.moved) return true
    const from = describe(target)
    this.state = move.state
    // A URL entered afresh is looked up afresh: its addresses may have changed.
    if (move.newUrl)
      this.addrs[move.state.url] = isIP(hostOf(this.urls[move.state.url]!)) ? [] : undefined
    this.notBeforeMs = this.timers.monotonicMs() + move.delayMs
    const next = this.urls[move.state.url]!
    const to =
      baseOf(next) + (move.newUrl ? '' : ` (${this.addrs[move.state.url]![move.state.addr]})`)
    this.deps.metrics?.inc(M.cpSwitches, 'Moves from one control plane (or address) to the next.')
    this.publish()
    this.deps.log?.info('control plane switch', {
      from,
      to,
      reason,
      retryInMs: move.delayMs,
    })
    return true
  }

  private publish(): void {
    this.deps.metrics?.replace(M.cpCurrent, 'The control plane in use (value 1).', [
      { labels: { index: String(this.state.url), url: this.currentUrl }, value: 1 },
    ])
  }
}

const baseOf = (u: URL): string => `${u.protocol}//${u.host}`

const describe = (t: Target): string =>
  t.serverName === undefined
    ? t.url
    : `${t.url} (${new URL(t.base).hostname.replace(/^\[|\]$/g, '')})`
