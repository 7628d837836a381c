/**
 * `nixfleet fleet check --closures FILE --cache URL`: before CI signs a release, that the binary
 * cache hosts fetch from holds every host's closure (its narinfo, as the control plane checks
 * before dispatch). The closures file is the one `nixfleet release --closures` takes.
 * Outcome: every closure present; some missing (exit 1, each listed with what to push); or the
 * cache did not answer for some (exit 2: not known missing, so not a verdict on the release).
 */
import { cacheBase, checkAll, type CacheCheck } from '../../runtime/binary-cache.ts'
import { EXIT_OK, EXIT_USAGE, EXIT_VERIFY_FAILED } from '../errors.ts'
import { loadClosures } from './release-sources.ts'

// CI checks a whole fleet at once: a handful of requests in flight, each bounded.
const CONCURRENCY = 8
const TIMEOUT_MS = 15_000

/** What the closure check found, for text and JSON output. */
export type ClosureReport = {
  readonly cache: string
  readonly present: readonly string[]
  readonly missing: readonly { readonly host: string; readonly closure: string }[]
  readonly errors: readonly {
    readonly host: string
    readonly closure: string
    readonly error: string
  }[]
}

/** Checks the closures of `hosts` listed in `file` against `cache`. */
export async function checkFleetClosures(
  file: string,
  cache: string,
  hosts: readonly string[]
): Promise<ClosureReport> {
  const closures = await loadClosures(file)
  const wanted = hosts.filter((h) => closures[h] !== undefined).sort()
  const found = new Map<string, CacheCheck>()
  const distinct = [...new Set(wanted.map((h) => closures[h]!))]
  await checkAll(cache, distinct, { concurrency: CONCURRENCY, timeoutMs: TIMEOUT_MS }, (c, r) =>
    found.set(c, r)
  )
  const present: string[] = []
  const missing: { host: string; closure: string }[] = []
  const errors: { host: string; closure: string; error: string }[] = []
  for (const host of wanted) {
    const closure = closures[host]!
    const r = found.get(closure)
    if (r?.status === 'present') present.push(host)
    else if (r?.status === 'missing') missing.push({ host, closure })
    else errors.push({ host, closure, error: r?.status === 'error' ? r.message : 'not checked' })
  }
  return { cache: cacheBase(cache), present, missing, errors }
}

/** The exit code of a report. */
export function closureExit(r: ClosureReport): number {
  if (r.missing.length > 0) return EXIT_VERIFY_FAILED
  return r.errors.length > 0 ? EXIT_USAGE : EXIT_OK
}

/** The text lines of a report. */
export function closureLines(r: ClosureReport): string[] {
  const total = r.present.length + r.missing.length + r.errors.length
  return [
    `closures: ${r.present.length} of ${total} in ${r.cache}`,
    ...r.missing.map(
      (m) => `  MISSING ${m.host}: ${m.closure} not in ${r.cache}; push it with nix copy`
    ),
    ...r.errors.map((e) => `  UNCHECKED ${e.host}: ${e.closure}: ${e.error}`),
  ]
}
