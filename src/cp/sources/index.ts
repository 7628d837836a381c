/**
 * Where the control plane reads signed release artifacts from (spec protocol.md §8.1): a local
 * release directory (`--release-dir`, a checkout of the release repository), local files
 * (`--artifact`/`--signature`, `--rollouts-dir`), or URL pairs with bearer-token files (a
 * forge's raw-file endpoints). Every fetch returns the artifact bytes and their detached
 * signature untouched; verification is the poller's job.
 * Invariants: rollout ids are validated before they are joined into a path or URL (no
 * traversal); token files are re-read on every fetch (rotation without restart); a missing
 * file or a non-2xx answer is an error for that artifact only.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseRolloutId } from '../../proto/ids.ts'

/** An artifact and its detached signature, as fetched. */
export type FetchedPair = { readonly bytes: Uint8Array; readonly signature: Uint8Array }

/** The outcome of one fetch. */
export type FetchResult =
  | { readonly ok: true; readonly pair: FetchedPair }
  | { readonly ok: false; readonly kind: 'Unavailable'; readonly message: string }

/** One place an artifact pair can come from. */
export type PairLocation =
  | { readonly type: 'file'; readonly artifact: string; readonly signature: string }
  | {
      readonly type: 'url'
      readonly artifact: string
      readonly signature: string
      readonly tokenFile?: string | undefined
    }

/** The configured sources of every artifact kind. */
export type SourceConfig = {
  readonly releaseDir?: string | undefined
  readonly fleet?: PairLocation | undefined
  readonly rolloutsDir?: string | undefined
  readonly rolloutsUrl?:
    | {
        readonly artifact: string
        readonly signature: string
        readonly tokenFile?: string | undefined
      }
    | undefined
  readonly revocations?: PairLocation | undefined
  readonly bootstrapNonces?: PairLocation | undefined
}

// Forge raw-file endpoints answer in milliseconds; 15 s (the reference's timeout) only cuts off
// a hung connection, and the poll cadence (30 s) keeps a slow forge from stacking polls.
const FETCH_TIMEOUT_MS = 15_000
// A signed fleet of 10,000 hosts is ~3 MB; 64 MiB refuses a runaway response long before it
// could hurt the CP while leaving room for fleets far larger than any we know of.
const MAX_ARTIFACT_BYTES = 64 * 1024 * 1024

/** The directory holding `fleet.resolved.json` in a release dir or a checkout of one. */
export function releaseBase(dir: string): string {
  if (existsSync(join(dir, 'fleet.resolved.json'))) return dir
  if (existsSync(join(dir, 'releases', 'fleet.resolved.json'))) return join(dir, 'releases')
  return dir
}

async function readFile(path: string, what: string): Promise<Uint8Array | string> {
  try {
    const f = Bun.file(path)
    if (!(await f.exists())) return `${what} ${path}: no such file`
    if (f.size > MAX_ARTIFACT_BYTES)
      return `${what} ${path}: larger than ${MAX_ARTIFACT_BYTES} bytes`
    return await f.bytes()
  } catch (e) {
    return `${what} ${path}: ${(e as { code?: string }).code ?? 'read error'}`
  }
}

async function fetchUrl(
  url: string,
  tokenFile: string | undefined,
  what: string
): Promise<Uint8Array | string> {
  const headers: Record<string, string> = {}
  if (tokenFile !== undefined) {
    const token = await readFile(tokenFile, 'token file')
    if (typeof token === 'string') return token
    headers['authorization'] = `Bearer ${new TextDecoder().decode(token).trim()}`
  }
  // URLs are the operator's configuration, but may embed credentials; log only the origin.
  const where = (() => {
    try {
      return new URL(url).origin
    } catch {
      return 'configured URL'
    }
  })()
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
    if (!res.ok) return `${what} from ${where}: HTTP ${res.status}`
    const len = Number(res.headers.get('content-length') ?? '0')
    if (len > MAX_ARTIFACT_BYTES)
      return `${what} from ${where}: larger than ${MAX_ARTIFACT_BYTES} bytes`
    const bytes = new Uint8Array(await res.arrayBuffer())
    if (bytes.length > MAX_ARTIFACT_BYTES)
      return `${what} from ${where}: larger than ${MAX_ARTIFACT_BYTES} bytes`
    return bytes
  } catch (e) {
    const name = (e as { name?: string }).name
    return `${what} from ${where}: ${name === 'TimeoutError' ? 'timed out' : 'unreachable'}`
  }
}

async function fetchPair(loc: PairLocation, what: string): Promise<FetchResult> {
  const get = (path: string, part: string) =>
    loc.type === 'file'
      ? readFile(path, `${what} ${part}`)
      : fetchUrl(path, loc.tokenFile, `${what} ${part}`)
  const bytes = await get(loc.artifact, 'artifact')
  if (typeof bytes === 'string') return { ok: false, kind: 'Unavailable', message: bytes }
  const signature = await get(loc.signature, 'signature')
  if (typeof signature === 'string') return { ok: false, kind: 'Unavailable', message: signature }
  return { ok: true, pair: { bytes, signature } }
}

const dirPair = (base: string, name: string): PairLocation => ({
  type: 'file',
  artifact: join(base, name),
  signature: join(base, `${name}.sig`),
})

/** The release source: one method per artifact kind. */
export class ReleaseSource {
  constructor(private readonly cfg: SourceConfig) {}

  /** A one-line description for logs and event-log rows. */
  describe(): string {
    if (this.cfg.fleet?.type === 'url') return 'channel-refs URL'
    if (this.cfg.fleet?.type === 'file') return 'artifact file'
    return this.cfg.releaseDir !== undefined ? 'release directory' : 'none'
  }

  /** Whether revocations are configured (readiness waits for them). */
  hasRevocations(): boolean {
    return this.cfg.revocations !== undefined || this.dirHas('revocations.json')
  }

  /** Whether bootstrap nonces are configured (readiness waits for them). */
  hasBootstrapNonces(): boolean {
    return this.cfg.bootstrapNonces !== undefined || this.dirHas('bootstrap-nonces.json')
  }

  private dirHas(name: string): boolean {
    return (
      this.cfg.releaseDir !== undefined && existsSync(join(releaseBase(this.cfg.releaseDir), name))
    )
  }

  /** The signed fleet.resolved. */
  fleet(): Promise<FetchResult> {
    if (this.cfg.fleet !== undefined) return fetchPair(this.cfg.fleet, 'fleet.resolved')
    if (this.cfg.releaseDir !== undefined) {
      return fetchPair(
        dirPair(releaseBase(this.cfg.releaseDir), 'fleet.resolved.json'),
        'fleet.resolved'
      )
    }
    return Promise.resolve({
      ok: false,
      kind: 'Unavailable',
      message: 'no fleet.resolved source is configured',
    })
  }

  /** The signed manifest of `rolloutId`: rollouts dir, then release dir, then URL template. */
  async manifest(rolloutId: string): Promise<FetchResult> {
    if (parseRolloutId(rolloutId) === undefined) {
      return {
        ok: false,
        kind: 'Unavailable',
        message: 'not a valid rollout id ({channel}@{lowercase hex commit})',
      }
    }
    const name = `${rolloutId}.json`
    const tried: string[] = []
    for (const dir of [
      this.cfg.rolloutsDir,
      this.cfg.releaseDir && join(releaseBase(this.cfg.releaseDir), 'rollouts'),
    ]) {
      if (!dir) continue
      if (existsSync(join(dir, name)))
        return fetchPair(dirPair(dir, name), `rollout manifest ${rolloutId}`)
      tried.push(join(dir, name))
    }
    const t = this.cfg.rolloutsUrl
    if (t !== undefined) {
      return fetchPair(
        {
          type: 'url',
          artifact: t.artifact.replaceAll('{rolloutId}', rolloutId),
          signature: t.signature.replaceAll('{rolloutId}', rolloutId),
          tokenFile: t.tokenFile,
        },
        `rollout manifest ${rolloutId}`
      )
    }
    return {
      ok: false,
      kind: 'Unavailable',
      message: `rollout manifest ${rolloutId}: not found (${tried.join(', ') || 'no rollouts source'})`,
    }
  }

  /** The signed revocation list, if configured. */
  revocations(): Promise<FetchResult> | undefined {
    if (this.cfg.revocations !== undefined) return fetchPair(this.cfg.revocations, 'revocations')
    if (this.dirHas('revocations.json')) {
      return fetchPair(
        dirPair(releaseBase(this.cfg.releaseDir!), 'revocations.json'),
        'revocations'
      )
    }
    return undefined
  }

  /** The signed bootstrap-nonce allow-list, if configured. */
  bootstrapNonces(): Promise<FetchResult> | undefined {
    if (this.cfg.bootstrapNonces !== undefined)
      return fetchPair(this.cfg.bootstrapNonces, 'bootstrap-nonces')
    if (this.dirHas('bootstrap-nonces.json')) {
      return fetchPair(
        dirPair(releaseBase(this.cfg.releaseDir!), 'bootstrap-nonces.json'),
        'bootstrap-nonces'
      )
    }
    return undefined
  }
}
