/**
 * A real local Nix binary cache for tests: a `file://` directory filled by Nix itself
 * (`nix-store --add`, `nix copy --to file://…`, `nix store sign` with a key from
 * `nix-store --generate-binary-cache-key`), optionally served over HTTP by a small Bun server
 * that answers HEAD and GET for its files and 404 for the rest, counting requests.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const NIX_ENV = {
  ...process.env,
  NIX_CONFIG: 'experimental-features = nix-command\nsubstituters =',
}

async function nix(argv: string[]): Promise<string> {
  const p = Bun.spawn(argv, { stdout: 'pipe', stderr: 'pipe', env: NIX_ENV })
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ])
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}: ${err}`)
  return out.trim()
}

/** A signed binary cache in `dir`/cache with its key pair in `dir`. */
export type LocalCache = {
  readonly dir: string
  readonly url: string
  /** The cache's public key (`name:base64`), what hosts put in `trusted-public-keys`. */
  readonly publicKey: string
  /** Adds a store path named `name` holding `content`, without pushing it; its full path. */
  add(name: string, content: string): Promise<string>
  /** Pushes a store path into the cache and signs it there. */
  push(storePath: string): Promise<void>
}

/** Creates an empty signed cache under `root`. */
export async function localCache(root: string, keyName = 'test-cache-1'): Promise<LocalCache> {
  const dir = join(root, 'cache')
  mkdirSync(dir, { recursive: true })
  const sk = join(root, 'cache.sk')
  const pk = join(root, 'cache.pk')
  await nix(['nix-store', '--generate-binary-cache-key', keyName, sk, pk])
  const url = `file://${dir}`
  return {
    dir,
    url,
    publicKey: (await Bun.file(pk).text()).trim(),
    async add(name, content) {
      const src = join(root, 'src', name)
      mkdirSync(join(root, 'src'), { recursive: true })
      if (!existsSync(src)) writeFileSync(src, content)
      return nix(['nix-store', '--add', src])
    },
    async push(storePath) {
      await nix(['nix', 'copy', '--to', url, storePath])
      await nix(['nix', 'store', 'sign', '--key-file', sk, '--store', url, storePath])
    },
  }
}

/** An HTTP server over a directory; `requests` lists `METHOD /path` as they came. */
export function serveDir(dir: string): { url: string; requests: string[]; stop(): void } {
  const requests: string[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const path = decodeURIComponent(new URL(req.url).pathname)
      requests.push(`${req.method} ${path}`)
      const file = Bun.file(join(dir, path))
      if (path.includes('..') || !(await file.exists())) return new Response('', { status: 404 })
      return new Response(req.method === 'HEAD' ? null : file, {
        headers: { 'content-length': String(file.size) },
      })
    },
  })
  return { url: `http://127.0.0.1:${server.port}`, requests, stop: () => void server.stop(true) }
}
