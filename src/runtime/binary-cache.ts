/**
 * Whether a Nix binary cache holds a closure: its `<hash>.narinfo` (the 32 nix-base32 chars
 * before the store basename's first `-`) answered by an `http(s)://` cache (HEAD, then GET for
 * a server that refuses HEAD) or present in a `file://` directory. Shared by the control plane's
 * availability check and `nixfleet fleet check --closures`.
 *
 * Invariants: one attempt, bounded by `timeoutMs`; 200 is `present`; 404 and 403 (what S3 says of
 * a missing object to a caller without list rights) are `missing`; anything else — another
 * status, a refused connection, a timeout, an unsupported scheme — is `error`, never `missing`,
 * so an unreachable cache is told apart from an incomplete one. Nothing here checks signatures:
 * Nix does, against the hosts' trusted keys.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** What one check found. */
export type CacheCheck =
  | { readonly status: 'present' }
  | { readonly status: 'missing' }
  | { readonly status: 'error'; readonly message: string }

/** The narinfo name of a store basename or path: `<hash>.narinfo`. */
export function narinfoName(closure: string): string {
  const base = closure.slice(closure.lastIndexOf('/') + 1)
  const dash = base.indexOf('-')
  return `${dash > 0 ? base.slice(0, dash) : base}.narinfo`
}

/** The cache URL without trailing slashes, as sentences and requests use it. */
export function cacheBase(cache: string): string {
  return cache.replace(/\/+$/, '')
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Checks that `cache` holds the narinfo of `closure`. */
export async function checkNarinfo(
  cache: string,
  closure: string,
  timeoutMs: number
): Promise<CacheCheck> {
  const name = narinfoName(closure)
  if (cache.startsWith('file://')) {
    try {
      const s = await stat(join(fileURLToPath(cacheBase(cache)), name))
      return s.isFile() ? { status: 'present' } : { status: 'missing' }
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') return { status: 'missing' }
      return { status: 'error', message: messageOf(e) }
    }
  }
  if (!/^https?:\/\//.test(cache))
    return { status: 'error', message: `unsupported cache URL ${cache} (http, https or file)` }
  const url = `${cacheBase(cache)}/${name}`
  try {
    const signal = AbortSignal.timeout(timeoutMs)
    let res = await fetch(url, { method: 'HEAD', signal })
    if (res.status === 405 || res.status === 501) res = await fetch(url, { signal })
    await res.body?.cancel()
    if (res.status === 200) return { status: 'present' }
    if (res.status === 404 || res.status === 403) return { status: 'missing' }
    return { status: 'error', message: `${url} answered ${res.status}` }
  } catch (e) {
    return { status: 'error', message: `${url}: ${messageOf(e)}` }
  }
}

/**
 * Checks every closure, at most `concurrency` at a time, calling `onResult` as each ends;
 * resolves when all have.
 */
export async function checkAll(
  cache: string,
  closures: readonly string[],
  opts: { readonly concurrency: number; readonly timeoutMs: number },
  onResult: (closure: string, check: CacheCheck) => void
): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < closures.length) {
      const closure = closures[next++]!
      onResult(closure, await checkNarinfo(cache, closure, opts.timeoutMs))
    }
  }
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, closures.length) }, lane))
}
