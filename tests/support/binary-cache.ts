/**
 * A real local Nix binary cache for tests: a `file://` directory filled by Nix itself
 * (`nix-build` of a trivial derivation, `nix copy --to file://…`, `nix store sign` with a key from
 * `nix-store --generate-binary-cache-key`), optionally served over HTTP by a small Bun server
 * that answers HEAD and GET for its files and 404 for the rest, counting requests.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const NIX_ENV = {
  ...process.env,
  NIX_CONFIG: 'experimental-features = nix-command\nsubstituters =\nsandbox = false',
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
  /**
   * Builds a store path named `name` holding `content` (input-addressed, like a NixOS system, so
   * a store that fetches it needs a trusted signature), without pushing it; its full path.
   */
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
      const expr = join(root, 'drv.nix')
      writeFileSync(
        expr,
        '{ name, content }: derivation { inherit name; system = builtins.currentSystem; ' +
          'builder = "/bin/sh"; args = [ "-c" "echo \'${content}\' > $out" ]; }\n'
      )
      return nix([
        'nix-build',
        expr,
        '--argstr',
        'name',
        name,
        '--argstr',
        'content',
        content,
        '--no-out-link',
      ])
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

/**
 * `nix copy` of `storePath` from the binary cache at `from` into a fresh chroot store `root`,
 * trusting only `publicKey`: what a host's Nix does when it substitutes. Exit code and stderr.
 */
export async function fetchInto(
  from: string,
  root: string,
  storePath: string,
  publicKey: string
): Promise<{ code: number; stderr: string }> {
  const p = Bun.spawn(
    [
      'nix',
      'copy',
      '--from',
      from,
      '--to',
      root,
      '--option',
      'trusted-public-keys',
      publicKey,
      storePath,
    ],
    { stdout: 'pipe', stderr: 'pipe', env: NIX_ENV }
  )
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited])
  return { code, stderr }
}
