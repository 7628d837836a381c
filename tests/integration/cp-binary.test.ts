/**
 * The control-plane commands in the compiled binary (`dist/nixfleet`): `control-plane` starts
 * with its migrations embedded (no files read at runtime), serves, and stops on SIGTERM with exit
 * 0; `--check-config` reports misconfiguration in one line (exit 2); `ca init`,
 * `mint-operator-cert` and `mint-token` produce what the CP accepts.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { canonicalizeValue } from '../../src/crypto/canonical-json.ts'
import { ed25519SeedToPkcs8Pem, formatOpenSshPublicKey } from '../../src/crypto/keys.ts'
import { ed25519Verify } from '../../src/crypto/ed25519.ts'
import { sha256Bytes } from '../../src/crypto/sha256.ts'
import { fromBase64, toBase64, utf8 } from '../../src/lib/bytes.ts'
import { parseCertificate } from '../../src/pki/cert.ts'
import { nixfleetBin } from '../support/binary.ts'
import { Lab } from './cp-support.ts'

let bin = ''
let lab: Lab

beforeAll(async () => {
  bin = await nixfleetBin()
})
beforeEach(async () => {
  lab = await Lab.create()
})
afterEach(() => lab.cleanup())

function env(): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: lab.dir }
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  await using proc = Bun.spawn([bin, ...args], {
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
    env: env(),
  })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { code, stdout, stderr }
}

function cpArgs(extra: string[] = []): string[] {
  return lab.cliArgs(extra)
}

describe('nixfleet control-plane (compiled)', () => {
  test('--help lists the reference flags', async () => {
    const r = await run(['control-plane', '--help'])
    expect(r.code).toBe(0)
    for (const flag of [
      '--listen',
      '--client-ca',
      '--trust-file',
      '--rollouts-source-artifact-url-template',
      '--release-dir',
      '--check-config',
      '--strict',
    ]) {
      expect(r.stdout).toContain(flag)
    }
  })

  test('--check-config: ok, or one line naming the problem (exit 2)', async () => {
    expect(await run([...cpArgs(), '--check-config'])).toEqual({
      code: 0,
      stdout: 'control-plane: configuration ok\n',
      stderr: '',
    })
    const half = await run([
      ...cpArgs(),
      '--revocations-artifact-url',
      'https://forge/r.json',
      '--check-config',
    ])
    expect(half).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'nixfleet: control-plane: --revocations-artifact-url and --revocations-signature-url must be given together (revocations)\n',
    })
    writeFileSync(join(lab.dir, 'bad.pem'), 'not a certificate')
    const cert = await run([...cpArgs(), '--tls-cert', join(lab.dir, 'bad.pem'), '--check-config'])
    expect(cert.code).toBe(2)
    expect(cert.stderr).toBe(
      `nixfleet: control-plane: TLS certificate ${join(lab.dir, 'bad.pem')}: not a CERTIFICATE PEM (missing block or bad base64)\n`
    )
    writeFileSync(lab.trustFile, '{"schemaVersion": 2}')
    const trust = await run([...cpArgs(), '--check-config'])
    expect(trust.code).toBe(2)
    expect(trust.stderr.split('\n')).toHaveLength(2)
    expect(trust.stderr).toContain('trust file')
    const strict = await run([...cpArgs(), '--strict', '--check-config'])
    expect(strict.code).toBe(2)
  })

  test('starts with embedded migrations, serves, and stops on SIGTERM with exit 0', async () => {
    lab.publish(
      { hosts: { h1: { channel: 'stable' } }, channels: { stable: {} } },
      { signedAt: Date.now() - 60_000 }
    )
    const proc = Bun.spawn([bin, ...cpArgs(['--log-level', 'info'])], {
      stdout: 'pipe',
      stderr: 'pipe',
      stdin: 'ignore',
      env: env(),
    })
    let port = 0
    let log = ''
    const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader()
    while (port === 0) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`control plane exited early:\n${log}`)
      log += new TextDecoder().decode(value)
      const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(log)
      if (m) port = Number(m[1])
    }
    const tls = { ca: lab.ca.certPem, checkServerIdentity: () => undefined }
    const health = await fetch(`https://127.0.0.1:${port}/healthz`, { tls } as RequestInit)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ ok: true, ready: true })
    const op = await fetch(`https://127.0.0.1:${port}/v1/rollouts`, {
      tls: { ...tls, cert: lab.operator.cert, key: lab.operator.key },
    } as RequestInit)
    expect(((await op.json()) as { rollouts: unknown[] }).rollouts).toHaveLength(1)
    const t0 = performance.now()
    proc.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    expect(performance.now() - t0).toBeLessThan(5000)
    reader.releaseLock()
    const db = new Database(join(lab.dir, 'cp', 'state.db'), { readonly: true })
    const tables = (
      db.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
        name: string
      }[]
    ).map((r) => r.name)
    expect(tables).toContain('event_log')
    expect(tables).toContain('__drizzle_migrations')
    db.close()
  })
})

describe('descriptor exhaustion (compiled)', () => {
  test('out of file descriptors, the listener keeps accepting once some are free', async () => {
    lab.publish(
      { hosts: { h1: { channel: 'stable' } }, channels: { stable: {} } },
      { signedAt: Date.now() - 60_000 }
    )
    // The CP gets 128 descriptors; 200 idle TCP peers (limits raised so only EMFILE stops them).
    const args = cpArgs([
      '--log-level',
      'info',
      '--max-pending-handshakes',
      '1000',
      '--max-anonymous-per-address',
      '1000',
    ])
    const proc = Bun.spawn(['bash', '-c', 'ulimit -n 128 && exec "$0" "$@"', bin, ...args], {
      stdout: 'pipe',
      stderr: 'pipe',
      stdin: 'ignore',
      env: env(),
    })
    let log = ''
    const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader()
    const readUntil = async (re: RegExp): Promise<RegExpExecArray> => {
      for (;;) {
        const m = re.exec(log)
        if (m) return m
        const { value, done } = await reader.read()
        if (done) throw new Error(`control plane exited:\n${log}`)
        log += new TextDecoder().decode(value)
      }
    }
    const port = Number((await readUntil(/"msg":"listening"[^\n]*"port":(\d+)/))[1])
    const peers = Array.from({ length: 200 }, () => {
      const s = connect(port, '127.0.0.1')
      s.on('error', () => {})
      return s
    })
    // Every descriptor of the CP is in use (the rest of the peers wait in the backlog).
    const open = () => readdirSync(`/proc/${proc.pid}/fd`).length
    while (open() < 126) await Bun.sleep(20)
    for (const s of peers) s.destroy()
    const tls = { ca: lab.ca.certPem, checkServerIdentity: () => undefined }
    const health = await fetch(`https://127.0.0.1:${port}/healthz`, { tls } as RequestInit)
    expect(health.status).toBe(200)
    proc.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    reader.releaseLock()
  }, 30_000)
})

describe('identity ceremonies (compiled)', () => {
  test('ca init and mint-operator-cert', async () => {
    const dir = join(lab.dir, 'newca')
    const r = await run([
      'ca',
      'init',
      '--out',
      dir,
      '--server-name',
      'cp.example.internal',
      '--server-name',
      '10.0.0.5',
    ])
    expect(r.code).toBe(0)
    for (const f of ['ca.pem', 'ca.key', 'server.pem', 'server.key'])
      expect(existsSync(join(dir, f))).toBe(true)
    const server = parseCertificate(readFileSync(join(dir, 'server.pem'), 'utf8'))
    expect(server.ok && [server.sanDns, server.sanIp, server.extKeyUsage]).toEqual([
      ['cp.example.internal'],
      ['10.0.0.5'],
      ['serverAuth'],
    ])
    expect((await run(['ca', 'init', '--out', dir])).code).toBe(2)
    const op = await run([
      'mint-operator-cert',
      '--ca',
      dir,
      '--name',
      'alice',
      '--out',
      join(lab.dir, 'alice'),
    ])
    expect(op.code).toBe(0)
    const cert = parseCertificate(readFileSync(join(lab.dir, 'alice.pem'), 'utf8'))
    expect(cert.ok && [cert.commonName, cert.extKeyUsage]).toEqual([
      'operator-alice',
      ['clientAuth'],
    ])
  })

  test('mint-token signs JCS(claims) with the org root and prints the allow-list entry', async () => {
    const keyFile = join(lab.dir, 'org.key')
    writeFileSync(keyFile, ed25519SeedToPkcs8Pem(lab.org.seed))
    const pub = formatOpenSshPublicKey(lab.hostKey('web-01').pub)
    const r = await run([
      'mint-token',
      '--hostname',
      'web-01',
      '--pubkey',
      pub,
      '--org-root-key',
      keyFile,
      '--validity-hours',
      '2',
    ])
    expect(r.code).toBe(0)
    const token = JSON.parse(r.stdout) as {
      version: number
      claims: Record<string, string>
      signature: string
    }
    expect(token.version).toBe(1)
    expect(token.claims['expectedPubkeyFingerprint']).toBe(
      toBase64(sha256Bytes(lab.hostKey('web-01').pub))
    )
    expect(
      ed25519Verify(
        fromBase64(token.signature)!,
        utf8(canonicalizeValue(token.claims)),
        lab.org.pub
      )
    ).toBe(true)
    expect(Date.parse(token.claims['expiresAt']!) - Date.parse(token.claims['issuedAt']!)).toBe(
      2 * 3600_000
    )
    const entry = JSON.parse(r.stderr.slice(r.stderr.indexOf('{'))) as Record<string, unknown>
    expect(entry).toMatchObject({
      nonce: token.claims['nonce'],
      hostname: 'web-01',
      expiresAt: token.claims['expiresAt'],
    })
    const bad = await run(['mint-token', '--hostname', 'web-01', '--org-root-key', keyFile])
    expect(bad).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'nixfleet: mint-token: give exactly one of --fleet-resolved, --csr-pubkey-fingerprint, --pubkey\n',
    })
  })
})
