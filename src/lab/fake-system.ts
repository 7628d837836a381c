/**
 * A fake NixOS system made of real files and shell shims (DECISIONS §7), the OS boundary that
 * `nixfleet demo` and the end-to-end tests drive real agents against. It lives in one directory:
 * `store/<32 nix-base32>-nixos-system-<name>` closures whose `bin/switch-to-configuration` flips
 * `current-system` (or fails, hangs, flips elsewhere, or asks for a reboot through a differing
 * `switch-inhibitors` file), plus shims for nix-store (prints the path, or fails), nix-env
 * (points the profile at the path) and systemd-run (runs the command after `--` in the
 * foreground, like `systemd-run --wait`). Product code: it ships in the binary for the demo.
 */
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SystemPaths } from '../agent/config.ts'
import { sha256Hex } from '../crypto/sha256.ts'

const NIX32 = '0123456789abcdfghijklmnpqrsvwxyz'

/** A deterministic store basename `<32 nix-base32 chars>-nixos-system-<name>`. */
export function closureId(name: string): string {
  const hex = sha256Hex(new TextEncoder().encode(name))
  let hash = ''
  for (let i = 0; i < 32; i++) hash += NIX32[parseInt(hex.slice(i * 2, i * 2 + 2), 16) % 32]
  return `${hash}-nixos-system-${name}`
}

function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`)
  chmodSync(path, 0o755)
}

/** How a fake closure's `switch-to-configuration switch` behaves. */
export type SwitchBehavior =
  | { readonly kind: 'ok' }
  | { readonly kind: 'fail'; readonly exitCode: number; readonly stderr: string }
  | { readonly kind: 'hang' }
  | { readonly kind: 'flip-to'; readonly closure: string }

/** A fake NixOS system under one temp dir. */
export type FakeSystem = {
  readonly root: string
  readonly paths: SystemPaths
  readonly storeDir: string
  /** Creates a closure; returns its basename. */
  closure(name: string, opts?: { behavior?: SwitchBehavior; inhibitors?: string }): string
  /** Points current-system at a closure (a simulated reboot into it). */
  setCurrent(closure: string): void
  /** Makes the nix-store shim fail with `stderr` (or succeed again with `undefined`). */
  failRealise(stderr: string | undefined): void
}

/** The control plane's certificate flags for a directory made by `nixfleet ca init --out DIR`. */
export function caDirFlags(dir: string): string[] {
  return [
    '--tls-cert',
    join(dir, 'server.pem'),
    '--tls-key',
    join(dir, 'server.key'),
    '--fleet-ca-cert',
    join(dir, 'ca.pem'),
    '--fleet-ca-key',
    join(dir, 'ca.key'),
  ]
}

/** The agent's NixOS touch-point flags, pointed at a fake system's paths. */
export function systemFlags(p: SystemPaths): string[] {
  return [
    '--current-system',
    p.currentSystem,
    '--system-profile',
    p.systemProfile,
    '--nix-store-dir',
    p.nixStoreDir,
    '--nix-store',
    p.nixStore,
    '--nix-env',
    p.nixEnv,
    '--systemd-run',
    p.systemdRun,
    '--switch-lock',
    p.switchLock,
  ]
}

/** Creates a fake system whose current system is a fresh closure named `initial`. */
export function fakeSystem(root: string, initial = 'initial'): FakeSystem {
  const storeDir = join(root, 'store')
  const bin = join(root, 'bin')
  mkdirSync(storeDir, { recursive: true })
  mkdirSync(bin, { recursive: true })
  const currentSystem = join(root, 'current-system')
  const systemProfile = join(root, 'profiles', 'system')
  mkdirSync(join(root, 'profiles'), { recursive: true })
  const realiseFail = join(root, 'realise-fail')
  script(
    join(bin, 'nix-store'),
    `[ "$1" = "--realise" ] || exit 2\nif [ -f '${realiseFail}' ]; then cat '${realiseFail}' >&2; exit 1; fi\n[ -d "$2" ] || { echo "error: path '$2' is not valid" >&2; exit 1; }\necho "$2"`
  )
  script(
    join(bin, 'nix-env'),
    `[ "$1" = "--profile" ] && [ "$3" = "--set" ] || exit 2\nln -sfn "$4" "$2"`
  )
  script(
    join(bin, 'systemd-run'),
    `while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"`
  )
  const paths: SystemPaths = {
    currentSystem,
    systemProfile,
    nixStoreDir: storeDir,
    nixStore: join(bin, 'nix-store'),
    nixEnv: join(bin, 'nix-env'),
    systemdRun: join(bin, 'systemd-run'),
    flock: 'flock',
    switchLock: join(root, 'switch.lock'),
  }
  const sys: FakeSystem = {
    root,
    paths,
    storeDir,
    closure(name, opts = {}) {
      const id = closureId(name)
      const dir = join(storeDir, id)
      mkdirSync(join(dir, 'bin'), { recursive: true })
      const b = opts.behavior ?? { kind: 'ok' }
      const onSwitch =
        b.kind === 'ok'
          ? `ln -sfn '${dir}' '${currentSystem}'`
          : b.kind === 'fail'
            ? `echo '${b.stderr}' >&2; exit ${b.exitCode}`
            : b.kind === 'hang'
              ? 'sleep 3600'
              : `ln -sfn '${join(storeDir, b.closure)}' '${currentSystem}'`
      script(
        join(dir, 'bin', 'switch-to-configuration'),
        `case "$1" in\n  switch) ${onSwitch} ;;\n  boot) echo boot > '${join(dir, 'booted')}' ;;\n  *) exit 1 ;;\nesac`
      )
      if (opts.inhibitors !== undefined)
        writeFileSync(join(dir, 'switch-inhibitors'), opts.inhibitors)
      return id
    },
    setCurrent(closure) {
      rmSync(currentSystem, { force: true })
      symlinkSync(join(storeDir, closure), currentSystem)
    },
    failRealise(stderr) {
      if (stderr === undefined) rmSync(realiseFail, { force: true })
      else writeFileSync(realiseFail, stderr)
    },
  }
  sys.setCurrent(sys.closure(initial))
  return sys
}
