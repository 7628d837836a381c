/**
 * End-to-end tests of the compiled `nixfleet` binary: help and usage errors, keygen, trust init,
 * canonicalize, and the release → verify round trip with every failure an operator can hit.
 * Each test spawns `dist/nixfleet` in its own temporary directory and checks stdout, stderr and
 * the exit code together (0 ok, 1 verification failed, 2 usage or I/O error).
 */
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  verify as nodeVerify,
} from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import * as v from 'valibot'
import pkg from '../../package.json'
import { TrustFileSchema } from '../../src/proto/trust.ts'
import { REPO_ROOT, nixfleetBin } from '../support/binary.ts'

const FIXTURES = join(REPO_ROOT, 'tests', 'fixtures')
const FLEET = join(FIXTURES, 'fleet.json')
const CLOSURES = join(FIXTURES, 'closures.json')
const REVOCATIONS = join(FIXTURES, 'revocations.json')
const NONCES = join(FIXTURES, 'bootstrap-nonces.json')

const CI = '0123456789abcdef0123456789abcdef01234567'
const NOW = '2026-05-01T12:00:00Z'
const STABLE = `stable@${CI}`
const EDGE = `edge@${CI}`

type Run = { code: number; stdout: string; stderr: string }

let bin = ''
let dir = ''

/** The ed25519 CI key of these tests: a PKCS#8 PEM, its seed and its raw public key (base64). */
type TestKey = { pem: string; seed: Buffer; pub: string; publicKey: KeyObject }

function makeKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  return {
    pem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    seed: Buffer.from(jwk.d!, 'base64url'),
    pub: Buffer.from(jwk.x!, 'base64url').toString('base64'),
    publicKey,
  }
}

const KEY = makeKey()
const OTHER_KEY = makeKey()

beforeAll(async () => {
  bin = await nixfleetBin()
})

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-cli-'))
})

afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

/** The environment of the child: ours without any NIXFLEET_* variable, plus `extra`. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, val] of Object.entries(process.env)) {
    if (val !== undefined && !k.startsWith('NIXFLEET_')) env[k] = val
  }
  return { ...env, ...extra }
}

async function nf(args: string[], opts: { stdin?: string | Uint8Array } = {}): Promise<Run> {
  const proc = Bun.spawn([bin, ...args], {
    cwd: dir,
    env: childEnv(),
    stdin: opts.stdin === undefined ? 'ignore' : new Blob([opts.stdin]),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { code, stdout, stderr }
}

/** Asserts a failure reported as one `nixfleet: …` line on stderr, without a stack trace. */
function expectOneLineError(r: Run, code: number, ...mentions: string[]): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: '' })
  expect(r.stderr).toMatch(/^nixfleet: [^\n]+\n$/)
  expect(r.stderr).not.toMatch(/\bat .+:\d+/)
  for (const m of mentions) expect(r.stderr).toContain(m)
}

/** Every file under `root`, relative and sorted (directories themselves omitted). */
function listFiles(root: string): string[] {
  if (!existsSync(root)) return []
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(relative(root, p))
    }
  }
  walk(root)
  return out.sort()
}

function writeKeyFile(key: TestKey = KEY, name = 'ci.key'): string {
  const path = join(dir, name)
  writeFileSync(path, key.pem, { mode: 0o600 })
  return path
}

type Slot = {
  current?: unknown
  previous?: unknown
  rejectBefore?: string | null
  successor?: unknown
  retireAt?: string | null
}

function writeTrust(
  slot: Slot = {},
  name = 'trust.json',
  extra: Record<string, unknown> = {}
): string {
  const path = join(dir, name)
  const trust = {
    schemaVersion: 1,
    ciReleaseKey: {
      current: { algorithm: 'ed25519', public: KEY.pub },
      previous: null,
      rejectBefore: null,
      successor: null,
      retireAt: null,
      ...slot,
    },
    cacheKeys: [],
    orgRootKey: null,
    rootCaPem: null,
    issuanceCaPems: [],
    ...extra,
  }
  writeFileSync(path, JSON.stringify(trust, null, 2))
  return path
}

/** Runs a release of the fixture fleet into `rel` (default `<dir>/releases`). */
async function release(
  opts: { rel?: string; now?: string; extra?: string[]; signer?: string[]; closures?: string } = {}
): Promise<Run> {
  return nf([
    'release',
    '--fleet',
    FLEET,
    '--closures',
    opts.closures ?? CLOSURES,
    ...(opts.signer ?? ['--key', writeKeyFile()]),
    '--ci-commit',
    CI,
    '--release-dir',
    opts.rel ?? join(dir, 'releases'),
    '--now',
    opts.now ?? NOW,
    '--revocations',
    REVOCATIONS,
    '--bootstrap-nonces',
    NONCES,
    ...(opts.extra ?? []),
  ])
}

const RELEASE_FILES = [
  'bootstrap-nonces.json',
  'bootstrap-nonces.json.sig',
  'fleet.resolved.json',
  'fleet.resolved.json.sig',
  'revocations.json',
  'revocations.json.sig',
  `rollouts/${EDGE}.json`,
  `rollouts/${EDGE}.json.sig`,
  `rollouts/${STABLE}.json`,
  `rollouts/${STABLE}.json.sig`,
]

/** The verify invocations covering every artifact of a release in `rel`. */
function verifyCommands(
  rel: string,
  trust: string,
  now = NOW,
  rolloutIds: readonly string[] = [EDGE, STABLE]
): { file: string; args: string[] }[] {
  const common = (file: string) => [
    '--artifact',
    join(rel, file),
    '--signature',
    join(rel, `${file}.sig`),
    '--trust-file',
    trust,
    '--now',
    now,
  ]
  const fleet = join(rel, 'fleet.resolved.json')
  return [
    { file: 'fleet.resolved.json', args: ['verify', 'artifact', ...common('fleet.resolved.json')] },
    ...rolloutIds.map((id) => ({
      file: `rollouts/${id}.json`,
      args: [
        'verify',
        'rollout-manifest',
        ...common(`rollouts/${id}.json`),
        '--rollout-id',
        id,
        '--fleet',
        fleet,
      ],
    })),
    { file: 'revocations.json', args: ['verify', 'revocations', ...common('revocations.json')] },
    {
      file: 'bootstrap-nonces.json',
      args: ['verify', 'bootstrap-nonces', ...common('bootstrap-nonces.json')],
    },
  ]
}

function fleetArgs(rel: string, trust: string, now = NOW): string[] {
  return verifyCommands(rel, trust, now)[0]!.args
}

function manifestArgs(rel: string, trust: string, id: string): string[] {
  return verifyCommands(rel, trust).find((c) => c.file === `rollouts/${id}.json`)!.args
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const read = (p: string): Buffer => readFileSync(p)

function flipBit(bytes: Uint8Array, byte: number, bit = 0): Uint8Array {
  const out = Uint8Array.from(bytes)
  out[byte] = out[byte]! ^ (1 << bit)
  return out
}

describe('help and version', () => {
  test('--version prints the package version', async () => {
    expect(await nf(['--version'])).toEqual({
      code: 0,
      stdout: `nixfleet ${pkg.version}\n`,
      stderr: '',
    })
  })

  test('--help lists every command', async () => {
    const r = await nf(['--help'])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    for (const name of [
      'release',
      'fleet check',
      'verify artifact',
      'verify rollout-manifest',
      'verify signature',
      'keygen',
      'trust init',
      'canonicalize',
    ]) {
      expect(r.stdout).toContain(`\n  ${name} `)
    }
  })

  test('verify --help lists the verify subcommands', async () => {
    const r = await nf(['verify', '--help'])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    expect(r.stdout.startsWith('usage: nixfleet verify <subcommand>')).toBe(true)
    for (const sub of [
      'artifact',
      'rollout-manifest',
      'revocations',
      'bootstrap-nonces',
      'signature',
    ]) {
      expect(r.stdout).toContain(`  verify ${sub} `)
    }
  })

  test('release --help describes its options', async () => {
    const r = await nf(['release', '--help'])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    expect(r.stdout.startsWith('nixfleet release — ')).toBe(true)
    for (const opt of [
      '--fleet FILE',
      '--sign-cmd CMD',
      '--reuse-unchanged-signature',
      '--release-dir DIR',
    ]) {
      expect(r.stdout).toContain(opt)
    }
  })
})

describe('usage errors', () => {
  test('an unknown command exits 2 with one line', async () => {
    expectOneLineError(await nf(['frobnicate']), 2, "unknown command 'frobnicate'")
  })

  test('an unknown flag exits 2 with one line naming it', async () => {
    expectOneLineError(await nf(['verify', 'artifact', '--bogus']), 2, '--bogus')
    expectOneLineError(await nf(['release', '--fleet', FLEET, '--bogus=1']), 2, '--bogus')
  })

  test('a missing required option exits 2 naming it', async () => {
    expectOneLineError(
      await nf(['verify', 'artifact', '--signature', 'x', '--trust-file', 'y']),
      2,
      '--artifact'
    )
  })
})

describe('keygen', () => {
  test('writes PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (base64 of 32 bytes)', async () => {
    const prefix = join(dir, 'ci')
    const r = await nf(['keygen', '--out', prefix])
    const pub = readFileSync(`${prefix}.pub`, 'utf8')
    expect(r).toEqual({
      code: 0,
      stdout: pub,
      stderr: `wrote ${prefix}.key (private, 0600) and ${prefix}.pub\n`,
    })
    expect(statSync(`${prefix}.key`).mode & 0o777).toBe(0o600)
    const pem = readFileSync(`${prefix}.key`, 'utf8')
    expect(pem).toMatch(
      /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/
    )
    const raw = Buffer.from(pub.trim(), 'base64')
    expect(raw.length).toBe(32)
    expect(raw.toString('base64')).toBe(pub.trim())
    // The public key is the one node/OpenSSL derives from the private key file.
    const jwk = createPublicKey(createPrivateKey(pem)).export({ format: 'jwk' })
    expect(Buffer.from(jwk.x!, 'base64url').toString('base64')).toBe(pub.trim())
  })

  test('refuses to overwrite an existing key without --force', async () => {
    const prefix = join(dir, 'ci')
    expect((await nf(['keygen', '--out', prefix])).code).toBe(0)
    const before = readFileSync(`${prefix}.key`, 'utf8')
    expectOneLineError(
      await nf(['keygen', '--out', prefix]),
      2,
      `${prefix}.key already exists`,
      '--force'
    )
    expect(readFileSync(`${prefix}.key`, 'utf8')).toBe(before)
    const forced = await nf(['keygen', '--out', prefix, '--force'])
    expect(forced.code).toBe(0)
    expect(readFileSync(`${prefix}.key`, 'utf8')).not.toBe(before)
  })

  test('--ssh also prints the OpenSSH public line of the same key', async () => {
    const prefix = join(dir, 'host')
    const r = await nf(['keygen', '--out', prefix, '--ssh', '--comment', 'ci@example'])
    const pub = readFileSync(`${prefix}.pub`, 'utf8').trim()
    const lines = r.stdout.split('\n')
    expect({ code: r.code, lines: lines.length, first: lines[0], last: lines[2] }).toEqual({
      code: 0,
      lines: 3,
      first: pub,
      last: '',
    })
    const [type, blob, comment] = lines[1]!.split(' ')
    expect([type, comment]).toEqual(['ssh-ed25519', 'ci@example'])
    const b = Buffer.from(blob!, 'base64')
    // string "ssh-ed25519" then string(32-byte key), each with a uint32 length prefix.
    expect(b.readUInt32BE(0)).toBe(11)
    expect(b.subarray(4, 15).toString()).toBe('ssh-ed25519')
    expect(b.readUInt32BE(15)).toBe(32)
    expect(b.subarray(19).toString('base64')).toBe(pub)
  })
})

describe('trust init', () => {
  test('writes a trust.json that TrustFileSchema parses, from a .pub file and a base64 key', async () => {
    const pubFile = join(dir, 'ci.pub')
    writeFileSync(pubFile, `${KEY.pub}\n`)
    const out = join(dir, 'trust.json')
    const r = await nf([
      'trust',
      'init',
      '--ci-release-key',
      pubFile,
      '--org-root-key',
      OTHER_KEY.pub,
      '--out',
      out,
    ])
    expect(r).toEqual({ code: 0, stdout: '', stderr: `wrote ${out}\n` })
    const parsed = v.safeParse(TrustFileSchema, JSON.parse(readFileSync(out, 'utf8')))
    expect(parsed.success && parsed.output).toEqual({
      schemaVersion: 1,
      ciReleaseKey: {
        current: { algorithm: 'ed25519', public: KEY.pub },
        previous: null,
        rejectBefore: null,
        successor: null,
        retireAt: null,
      },
      cacheKeys: [],
      orgRootKey: {
        current: { algorithm: 'ed25519', public: OTHER_KEY.pub },
        previous: null,
        rejectBefore: null,
        successor: null,
        retireAt: null,
      },
      rootCaPem: null,
      issuanceCaPems: [],
    })
  })

  test('rejects a key of the wrong length or not base64 with exit 2 naming the flag', async () => {
    const out = join(dir, 'trust.json')
    const short = Buffer.alloc(31, 7).toString('base64')
    expectOneLineError(
      await nf(['trust', 'init', '--ci-release-key', short, '--out', out]),
      2,
      '--ci-release-key',
      '31 bytes'
    )
    expectOneLineError(
      await nf(['trust', 'init', '--ci-release-key', 'abc!', '--out', out]),
      2,
      '--ci-release-key',
      'base64'
    )
    expectOneLineError(
      await nf([
        'trust',
        'init',
        '--ci-release-key',
        KEY.pub,
        '--org-root-key',
        short,
        '--out',
        out,
      ]),
      2,
      '--org-root-key'
    )
    expect(existsSync(out)).toBe(false)
  })
})

describe('canonicalize', () => {
  test('the golden vector', async () => {
    const r = await nf(['canonicalize'], {
      stdin: '{"b":2,"a":{"z":null,"y":true,"x":[3,1,2]},"schemaVersion":1}',
    })
    expect(r).toEqual({
      code: 0,
      stdout: '{"a":{"x":[3,1,2],"y":true,"z":null},"b":2,"schemaVersion":1}',
      stderr: '',
    })
  })

  test('invalid JSON exits 1', async () => {
    expectOneLineError(await nf(['canonicalize'], { stdin: '{"a":' }), 1, 'stdin')
  })

  test('a duplicate key exits 1', async () => {
    expectOneLineError(await nf(['canonicalize'], { stdin: '{"a":1,"a":2}' }), 1, 'duplicate key')
  })
})

describe('release → verify', () => {
  test('every produced file verifies, and the signatures are plain ed25519 over the file bytes', async () => {
    const rel = join(dir, 'releases')
    const r = await release()
    const fleetBytes = read(join(rel, 'fleet.resolved.json'))
    expect(r).toEqual({
      code: 0,
      stdout:
        `released ${rel}/fleet.resolved.json (ciCommit ${CI}, signedAt ${NOW}, sha256 ${sha256(fleetBytes)})\n` +
        `  ${rel}/rollouts/${EDGE}.json\n  ${rel}/rollouts/${STABLE}.json\n` +
        `  ${rel}/revocations.json\n  ${rel}/bootstrap-nonces.json\n`,
      stderr: '',
    })
    expect(listFiles(rel)).toEqual(RELEASE_FILES)
    for (const f of RELEASE_FILES.filter((p) => p.endsWith('.json'))) {
      const sig = read(join(rel, `${f}.sig`))
      expect([f, sig.length, nodeVerify(null, read(join(rel, f)), KEY.publicKey, sig)]).toEqual([
        f,
        64,
        true,
      ])
    }
    const trust = writeTrust()
    for (const { file, args } of verifyCommands(rel, trust)) {
      const out = await nf(args)
      expect({ file, code: out.code, stderr: out.stderr }).toEqual({ file, code: 0, stderr: '' })
      expect(out.stdout).toMatch(
        /^ok: .* verified — signed 2026-05-01T12:00:00Z by the current ed25519 key/
      )
      expect(out.stdout).toContain(`sha256 ${sha256(read(join(rel, file)))}\n`)
    }
    // The nonce that had expired at signing time was dropped.
    expect(
      JSON.parse(read(join(rel, 'bootstrap-nonces.json')).toString()).bootstrapNonces.map(
        (n: { hostname: string }) => n.hostname
      )
    ).toEqual(['web-01'])
  })

  test('verify --json prints one JSON object with ok: true', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const r = await nf([...fleetArgs(rel, writeTrust()), '--json'])
    expect({ code: r.code, stderr: r.stderr, lines: r.stdout.split('\n').length }).toEqual({
      code: 0,
      stderr: '',
      lines: 2,
    })
    expect(JSON.parse(r.stdout)).toEqual({
      kind: 'artifact',
      ok: true,
      sha256: sha256(read(join(rel, 'fleet.resolved.json'))),
      signedAt: NOW,
      ciCommit: CI,
      key: 'current',
      algorithm: 'ed25519',
      freshnessWindowSecs: 2_592_000,
    })
  })

  test('a 1-bit flip in the artifact exits 1 with BadSignature', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const path = join(rel, 'fleet.resolved.json')
    const bytes = read(path)
    // Inside the commit hex: '0' → '1' keeps the JSON valid.
    writeFileSync(path, flipBit(bytes, bytes.indexOf(CI)))
    const r = await nf([...fleetArgs(rel, writeTrust()), '--json'])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' })
    expect(JSON.parse(r.stdout)).toEqual({
      kind: 'artifact',
      ok: false,
      error: 'BadSignature',
      message: 'signature matches no active key',
    })
  })

  test('a signature by a key the trust file does not hold exits 1 with BadSignature', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const r = await nf(
      fleetArgs(rel, writeTrust({ current: { algorithm: 'ed25519', public: OTHER_KEY.pub } }))
    )
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' })
    expect(r.stdout).toBe('FAILED fleet.resolved: BadSignature: signature matches no active key\n')
  })

  test('--now 2 days before signedAt exits 1 with FutureDated', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const r = await nf(fleetArgs(rel, writeTrust(), '2026-04-29T12:00:00Z'))
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' })
    expect(r.stdout).toStartWith('FAILED fleet.resolved: FutureDated: ')
  })

  test('stale: window + 60 s passes, window + 61 s exits 1 with Stale', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const trust = writeTrust()
    const window = ['--freshness-window-secs', '3600']
    const edge = await nf([...fleetArgs(rel, trust, '2026-05-01T13:01:00Z'), ...window])
    expect({ code: edge.code, stderr: edge.stderr }).toEqual({ code: 0, stderr: '' })
    const stale = await nf([...fleetArgs(rel, trust, '2026-05-01T13:01:01Z'), ...window])
    expect({ code: stale.code, stderr: stale.stderr }).toEqual({ code: 1, stderr: '' })
    expect(stale.stdout).toStartWith('FAILED fleet.resolved: Stale: ')
  })

  test("a manifest older than its channel's freshnessWindow is Stale when verified with --fleet", async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const trust = writeTrust()
    // edge: freshnessWindow 180 minutes = 10800 s; 10800 + 61 s later is past the slack.
    const later = '2026-05-01T15:01:01Z'
    const args = manifestArgs(rel, trust, EDGE).map((a) => (a === NOW ? later : a))
    const r = await nf(args)
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' })
    expect(r.stdout).toStartWith('FAILED rollout manifest: Stale: ')
    expect(r.stdout).toContain('channel edge')
    // The stable channel allows 1440 minutes, so the same instant is fine there.
    const stable = await nf(manifestArgs(rel, trust, STABLE).map((a) => (a === NOW ? later : a)))
    expect({ code: stable.code, stderr: stable.stderr }).toEqual({ code: 0, stderr: '' })
  })

  test('a wrong --rollout-id exits 1 (discriminator)', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const args = manifestArgs(rel, writeTrust(), STABLE).map((a) => (a === STABLE ? EDGE : a))
    const r = await nf(args)
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' })
    expect(r.stdout).toBe(
      `FAILED rollout manifest: RolloutIdMismatch: manifest is for rollout ${STABLE}, not ${EDGE} (discriminator mismatch)\n`
    )
  })

  test('a manifest verified against a different fleet file exits 1 (anchor)', async () => {
    const rel = join(dir, 'releases')
    const rel2 = join(dir, 'releases-2')
    expect((await release()).code).toBe(0)
    expect((await release({ rel: rel2, now: '2026-05-01T12:30:00Z' })).code).toBe(0)
    const args = manifestArgs(rel, writeTrust(), STABLE).map((a) =>
      a === join(rel, 'fleet.resolved.json') ? join(rel2, 'fleet.resolved.json') : a
    )
    const r = await nf(args)
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' })
    expect(r.stdout).toStartWith('FAILED rollout manifest: AnchorMismatch: ')
  })

  test('verify signature: valid exits 0, a flipped signature exits 1', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const message = join(rel, 'fleet.resolved.json')
    const args = [
      'verify',
      'signature',
      '--public-key',
      KEY.pub,
      '--message',
      message,
      '--signature',
    ]
    expect(await nf([...args, `${message}.sig`])).toEqual({
      code: 0,
      stdout: 'ok: signature valid (ed25519)\n',
      stderr: '',
    })
    const flipped = join(dir, 'flipped.sig')
    writeFileSync(flipped, flipBit(read(`${message}.sig`), 10, 3))
    expect(await nf([...args, flipped])).toEqual({
      code: 1,
      stdout: 'FAILED: signature does not match the message and key\n',
      stderr: '',
    })
  })
})

describe('release with --sign-cmd', () => {
  async function expectReleaseVerifies(rel: string): Promise<void> {
    expect(listFiles(rel)).toEqual(RELEASE_FILES)
    const trust = writeTrust()
    for (const { file, args } of verifyCommands(rel, trust)) {
      const out = await nf(args)
      expect({ file, code: out.code, stderr: out.stderr }).toEqual({ file, code: 0, stderr: '' })
    }
  }

  if (Bun.which('openssl')) {
    test('an openssl pkeyutl hook produces files that verify', async () => {
      const key = writeKeyFile()
      const cmd = `openssl pkeyutl -sign -inkey '${key}' -rawin -in "$NIXFLEET_INPUT" -out "$NIXFLEET_OUTPUT"`
      const r = await release({ signer: ['--sign-cmd', cmd, '--trust-file', writeTrust()] })
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
      await expectReleaseVerifies(join(dir, 'releases'))
    })
  }

  test('a bun script signing with @noble/ed25519 produces files that verify', async () => {
    const script = join(dir, 'sign.ts')
    writeFileSync(
      script,
      [
        "import { readFileSync, writeFileSync } from 'node:fs'",
        `import * as ed from '${join(REPO_ROOT, 'node_modules/@noble/ed25519/index.js')}'`,
        `import { sha512 } from '${join(REPO_ROOT, 'node_modules/@noble/hashes/sha2.js')}'`,
        'ed.hashes.sha512 = sha512',
        `const seed = Buffer.from('${KEY.seed.toString('hex')}', 'hex')`,
        'writeFileSync(process.env.NIXFLEET_OUTPUT!, ed.sign(readFileSync(process.env.NIXFLEET_INPUT!), seed))',
        '',
      ].join('\n')
    )
    const r = await release({
      signer: ['--sign-cmd', `'${process.execPath}' '${script}'`, '--trust-file', writeTrust()],
    })
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    await expectReleaseVerifies(join(dir, 'releases'))
  })

  test('a hook that exits 1 aborts with exit 2 and writes nothing', async () => {
    const rel = join(dir, 'releases')
    mkdirSync(rel)
    const r = await release({
      signer: ['--sign-cmd', 'echo "hsm offline" >&2; exit 1', '--trust-file', writeTrust()],
    })
    expectOneLineError(r, 2, '--sign-cmd exited 1', 'hsm offline')
    expect(listFiles(rel)).toEqual([])
  })

  test('a hook that writes 0 bytes aborts with exit 2 and writes nothing', async () => {
    const rel = join(dir, 'releases')
    mkdirSync(rel)
    const r = await release({
      signer: ['--sign-cmd', ': > "$NIXFLEET_OUTPUT"', '--trust-file', writeTrust()],
    })
    expectOneLineError(r, 2, '--sign-cmd', '0 bytes')
    expect(listFiles(rel)).toEqual([])
  })

  test('a hook without --trust-file is refused before it runs (its output could not be verified)', async () => {
    const rel = join(dir, 'releases')
    mkdirSync(rel)
    const marker = join(dir, 'hook-ran')
    const r = await release({ signer: ['--sign-cmd', `touch '${marker}'`] })
    expectOneLineError(r, 2, '--sign-cmd needs --trust-file')
    expect(listFiles(rel)).toEqual([])
    expect(existsSync(marker)).toBe(false)
  })

  test('a hook whose signatures do not verify against --trust-file aborts and writes nothing', async () => {
    const rel = join(dir, 'releases')
    const r = await release({
      signer: ['--sign-cmd', 'head -c 64 /dev/zero > "$NIXFLEET_OUTPUT"'],
      extra: ['--trust-file', writeTrust()],
    })
    expectOneLineError(
      r,
      1,
      'fleet.resolved.json does not verify against the trust file',
      'nothing written'
    )
    expect(listFiles(rel)).toEqual([])
  })
})

describe('--reuse-unchanged-signature', () => {
  const snapshot = (rel: string) =>
    Object.fromEntries(listFiles(rel).map((f) => [f, sha256(read(join(rel, f)))]))
  const signedAtOf = (rel: string) =>
    JSON.parse(read(join(rel, 'fleet.resolved.json')).toString()).meta.signedAt

  test('keeps signedAt and the exact signatures when nothing changed; a changed closure re-signs', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const first = snapshot(rel)

    const again = await release({
      now: '2026-05-01T13:00:00Z',
      extra: ['--reuse-unchanged-signature'],
    })
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: '' })
    expect(again.stdout.split('\n')[0]).toEndWith(' — unchanged, signature reused')
    expect(snapshot(rel)).toEqual(first)
    expect(signedAtOf(rel)).toBe(NOW)

    const closures = JSON.parse(readFileSync(CLOSURES, 'utf8')) as Record<string, string>
    closures['web-01'] = '/nix/store/9c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-web-01-25.11'
    const changed = join(dir, 'closures-2.json')
    writeFileSync(changed, JSON.stringify(closures))
    const third = await release({
      now: '2026-05-01T14:00:00Z',
      closures: changed,
      extra: ['--reuse-unchanged-signature'],
    })
    expect({ code: third.code, stderr: third.stderr }).toEqual({ code: 0, stderr: '' })
    expect(signedAtOf(rel)).toBe('2026-05-01T14:00:00Z')
    const now = snapshot(rel)
    expect(now['fleet.resolved.json.sig']).not.toBe(first['fleet.resolved.json.sig'])
    expect(now[`rollouts/${STABLE}.json`]).not.toBe(first[`rollouts/${STABLE}.json`])
    const trust = writeTrust()
    for (const { file, args } of verifyCommands(rel, trust, '2026-05-01T14:00:00Z')) {
      const out = await nf(args)
      expect({ file, code: out.code }).toEqual({ file, code: 0 })
    }
  })

  test('after a key rotation the unchanged artifacts keep signedAt but are signed by the new key', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const first = snapshot(rel)
    const newKey = writeKeyFile(OTHER_KEY, 'new.key')
    const r = await release({
      now: '2026-05-01T13:00:00Z',
      signer: ['--key', newKey],
      extra: ['--reuse-unchanged-signature'],
    })
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    expect(signedAtOf(rel)).toBe(NOW)
    const now = snapshot(rel)
    expect(now['fleet.resolved.json']).toBe(first['fleet.resolved.json']!)
    expect(now['fleet.resolved.json.sig']).not.toBe(first['fleet.resolved.json.sig'])
    const trust = writeTrust({ current: { algorithm: 'ed25519', public: OTHER_KEY.pub } })
    for (const { file, args } of verifyCommands(rel, trust)) {
      const out = await nf(args)
      expect({ file, code: out.code, stdout: out.stdout.slice(0, 3) }).toEqual({
        file,
        code: 0,
        stdout: 'ok:',
      })
    }
  })

  test('a changed revocations or bootstrap-nonces list is stamped afresh; only unchanged artifacts keep theirs', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    const first = snapshot(rel)
    const metaOf = (file: string) => JSON.parse(read(join(rel, file)).toString()).meta.signedAt
    const revocations = join(dir, 'revocations-2.json')
    writeFileSync(
      revocations,
      JSON.stringify({
        revocations: [
          ...JSON.parse(readFileSync(REVOCATIONS, 'utf8')).revocations,
          {
            hostname: 'db-01',
            notBefore: '2026-05-01T12:30:00Z',
            reason: 'stolen',
            revokedBy: 'ops',
          },
        ],
      })
    )
    const r = await release({
      now: '2026-05-01T13:00:00Z',
      extra: ['--reuse-unchanged-signature', '--revocations', revocations],
    })
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    // The CP orders revocation lists by signedAt: the changed one must be newer than the last.
    expect(metaOf('revocations.json')).toBe('2026-05-01T13:00:00Z')
    expect(read(join(rel, 'revocations.json')).toString()).toContain('"db-01"')
    const second = snapshot(rel)
    for (const f of RELEASE_FILES.filter((f) => !f.startsWith('revocations.json'))) {
      expect({ f, sha: second[f] }).toEqual({ f, sha: first[f] })
    }
    expect(r.stdout).toContain(`${rel}/revocations.json\n`)
    expect(r.stdout).toContain(`${rel}/bootstrap-nonces.json (unchanged)\n`)

    const nonces = join(dir, 'nonces-2.json')
    writeFileSync(
      nonces,
      JSON.stringify({
        bootstrapNonces: [
          {
            nonce: '0123456789abcdef0123456789abcdef',
            hostname: 'db-01',
            expiresAt: '2026-05-09T00:00:00Z',
            mintedAt: '2026-05-01T13:30:00Z',
            mintedBy: 'alice',
          },
        ],
      })
    )
    const r3 = await release({
      now: '2026-05-01T14:00:00Z',
      extra: [
        '--reuse-unchanged-signature',
        '--revocations',
        revocations,
        '--bootstrap-nonces',
        nonces,
      ],
    })
    expect({ code: r3.code, stderr: r3.stderr }).toEqual({ code: 0, stderr: '' })
    expect(metaOf('bootstrap-nonces.json')).toBe('2026-05-01T14:00:00Z')
    expect(metaOf('revocations.json')).toBe('2026-05-01T13:00:00Z')
    expect(signedAtOf(rel)).toBe(NOW)
    const trust = writeTrust()
    for (const { file, args } of verifyCommands(rel, trust, '2026-05-01T14:00:00Z')) {
      const out = await nf(args)
      expect({ file, code: out.code }).toEqual({ file, code: 0 })
    }
  })

  test('a changed list that cannot be stamped newer than the released one is refused, nothing written', async () => {
    const rel = join(dir, 'releases')
    expect((await release({ now: '2026-05-01T13:00:00Z' })).code).toBe(0)
    const first = snapshot(rel)
    const revocations = join(dir, 'revocations-2.json')
    writeFileSync(revocations, JSON.stringify({ revocations: [] }))
    const r = await release({
      now: NOW,
      extra: ['--reuse-unchanged-signature', '--revocations', revocations],
    })
    expectOneLineError(r, 2, 'revocations.json', '2026-05-01T13:00:00Z', 'rollback')
    expect(snapshot(rel)).toEqual(first)
  })

  test('without the flag a later run stamps the new time', async () => {
    const rel = join(dir, 'releases')
    expect((await release()).code).toBe(0)
    expect((await release({ now: '2026-05-01T13:00:00Z' })).code).toBe(0)
    expect(signedAtOf(rel)).toBe('2026-05-01T13:00:00Z')
  })
})

describe('bad inputs exit 2 with one line naming the file', () => {
  const rel = () => join(dir, 'releases')

  /** Asserts the failed release left nothing behind: no artifact, no temporary file. */
  function expectNothingWritten(): void {
    expect(listFiles(rel())).toEqual([])
  }

  async function releaseWith(fleet: string, closures = CLOSURES, key?: string): Promise<Run> {
    return nf([
      'release',
      '--fleet',
      fleet,
      '--closures',
      closures,
      '--key',
      key ?? writeKeyFile(),
      '--ci-commit',
      CI,
      '--release-dir',
      rel(),
      '--now',
      NOW,
    ])
  }

  test('a missing fleet file', async () => {
    const path = join(dir, 'missing.json')
    expectOneLineError(await releaseWith(path), 2, path, 'no such file')
    expectNothingWritten()
  })

  test('a fleet file that is not JSON', async () => {
    const path = join(dir, 'fleet.json')
    writeFileSync(path, '{"schemaVersion": 1,')
    expectOneLineError(await releaseWith(path), 2, path, 'invalid JSON')
    expectNothingWritten()
  })

  test('a fleet file that fails the schema', async () => {
    const path = join(dir, 'fleet.json')
    const fleet = JSON.parse(readFileSync(FLEET, 'utf8'))
    fleet.hosts['web-01'].channel = 42
    writeFileSync(path, JSON.stringify(fleet))
    expectOneLineError(await releaseWith(path), 2, path, 'hosts.web-01.channel')
    expectNothingWritten()
  })

  test('closures for a host the fleet does not declare', async () => {
    const path = join(dir, 'closures.json')
    writeFileSync(
      path,
      JSON.stringify({
        'web-99': '/nix/store/0c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-web-99',
      })
    )
    expectOneLineError(await releaseWith(FLEET, path), 2, path, 'web-99')
    expectNothingWritten()
  })

  test('a closure that is not a store path', async () => {
    const path = join(dir, 'closures.json')
    writeFileSync(path, JSON.stringify({ 'web-01': '/nix/store/not-a-store-path' }))
    expectOneLineError(await releaseWith(FLEET, path), 2, path, 'web-01')
    expectNothingWritten()
  })

  test('a key file of the wrong length', async () => {
    const key = join(dir, 'short.key')
    writeFileSync(key, Buffer.alloc(31, 1))
    expectOneLineError(await releaseWith(FLEET, CLOSURES, key), 2, key)
    expectNothingWritten()
  })

  test('a signature file of 63 bytes', async () => {
    expect((await release()).code).toBe(0)
    const sig = join(dir, 'short.sig')
    writeFileSync(sig, read(join(rel(), 'fleet.resolved.json.sig')).subarray(0, 63))
    const args = fleetArgs(rel(), writeTrust()).map((a) => (a.endsWith('.sig') ? sig : a))
    expectOneLineError(await nf(args), 2, sig, '63 bytes')
  })

  test('a trust file with schemaVersion 2', async () => {
    expect((await release()).code).toBe(0)
    const trust = writeTrust({}, 'trust.json', { schemaVersion: 2 })
    expectOneLineError(await nf(fleetArgs(rel(), trust)), 2, trust, 'schemaVersion')
  })

  test('an unreadable trust file (a directory) and a missing one', async () => {
    expect((await release()).code).toBe(0)
    const asDir = join(dir, 'trust.d')
    mkdirSync(asDir)
    expectOneLineError(await nf(fleetArgs(rel(), asDir)), 2, asDir, 'is a directory')
    const missing = join(dir, 'nope.json')
    expectOneLineError(await nf(fleetArgs(rel(), missing)), 2, missing, 'no such file')
  })

  test('a release dir that is a regular file is an I/O error naming it, not an internal error', async () => {
    const file = join(dir, 'releases-file')
    writeFileSync(file, 'not a directory')
    const r = await release({ rel: file })
    expectOneLineError(r, 2, `cannot create ${file}/rollouts`)
    expect(r.stderr).not.toContain('internal error')
    expect(readFileSync(file, 'utf8')).toBe('not a directory')
  })

  test('a write failure in the release dir leaves no temporary files behind', async () => {
    // A directory where a signature must go makes the atomic rename fail part-way through.
    const blocker = join(rel(), 'rollouts', `${STABLE}.json.sig`)
    mkdirSync(join(blocker, 'inside'), { recursive: true })
    const r = await release()
    expectOneLineError(r, 2, blocker)
    const left = listFiles(rel())
    expect(left.filter((f) => f.includes('.tmp'))).toEqual([])
    // The fleet is written last, so consumers never see a fleet whose manifests are missing.
    expect(left).not.toContain('fleet.resolved.json')
    // Every file that was written is whole: it verifies (without the absent fleet anchor).
    const trust = writeTrust()
    const written = verifyCommands(rel(), trust).filter((c) => left.includes(c.file))
    expect(written.length).toBeGreaterThan(0)
    for (const { file, args } of written) {
      const i = args.indexOf('--fleet')
      const noFleet = i < 0 ? args : [...args.slice(0, i), ...args.slice(i + 2)]
      expect({ file, code: (await nf(noFleet)).code }).toEqual({ file, code: 0 })
    }
  })
})

/** The fleet of the repository template as mkFleet resolves it (golden, checked by nix/ci.sh). */
const TEMPLATE_FLEET = join(
  REPO_ROOT,
  'nix',
  'tests',
  'mk-fleet',
  'fixtures',
  'template.resolved.json'
)

/** The template's fleet with `edit` applied, written to `<dir>/NAME`. */
function writeFleet(name: string, edit: (fleet: Record<string, any>) => void): string {
  const fleet = JSON.parse(readFileSync(TEMPLATE_FLEET, 'utf8'))
  edit(fleet)
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify(fleet))
  return path
}

/** A typo a hand-written fleet may carry: `disruptionBudget` for `disruptionBudgets`. */
const withTypo = (fleet: Record<string, any>) => {
  fleet.disruptionBudget = fleet.disruptionBudgets
  delete fleet.disruptionBudgets
}

/**
 * A stand-in for `nix` that answers `eval --json REF#fleet.resolved` with `fleet` and
 * `build --no-link --print-out-paths REF#nixosConfigurations.HOST.…` with a store path for HOST,
 * logging each call (one line of arguments) to the returned `log`.
 */
function fakeNix(fleet: string): { nix: string; log: string } {
  const nix = join(dir, 'fake-nix')
  const log = join(dir, 'nix.log')
  writeFileSync(log, '')
  writeFileSync(
    nix,
    `#!/bin/sh
printf '%s\\n' "$*" >> '${log}'
case "$1 $2" in
  "eval --json") cat '${fleet}' ;;
  "build --no-link")
    host=\${4#*#nixosConfigurations.}
    echo "/nix/store/0c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-\${host%%.*}" ;;
  *) echo "fake nix: unexpected $*" >&2; exit 1 ;;
esac
`,
    { mode: 0o755 }
  )
  return { nix, log }
}

/** `nixfleet release` of `--fleet FILE` or `--flake REF --nix PATH` into `rel`. */
function releaseFrom(source: string[], rel: string): Promise<Run> {
  return nf([
    'release',
    ...source,
    '--key',
    writeKeyFile(),
    '--ci-commit',
    CI,
    '--release-dir',
    rel,
    '--now',
    NOW,
  ])
}

describe('release checks the fleet before it signs', () => {
  const rel = () => join(dir, 'releases')
  const releaseFleet = (fleet: string) => releaseFrom(['--fleet', fleet], rel())

  test('a misspelt key exits 2 naming it and the key meant, and writes nothing', async () => {
    const fleet = writeFleet('typo.json', withTypo)
    expectOneLineError(
      await releaseFleet(fleet),
      2,
      `fleet ${fleet}: disruptionBudget: no such key (did you mean disruptionBudgets?)`
    )
    expect(listFiles(rel())).toEqual([])
  })

  test('every violation is reported, one line each', async () => {
    const fleet = writeFleet('invalid.json', (f) => {
      f.channels.stable.rolloutPolicy = 'canry'
      f.channels.infra.freshnessWindow = 700
      f.edges = [{ gated: 'web-02', gates: 'web-03', reason: '' }]
    })
    const r = await releaseFleet(fleet)
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 2,
      stdout: '',
      stderr:
        `nixfleet: fleet ${fleet}: fleet invariant violations:\n` +
        "  - channel 'stable' references unknown rollout policy 'canry'\n" +
        "  - edges[0].gates references unknown host 'web-03'\n" +
        "  - channel 'infra': freshnessWindow (700) must be ≥ 2 × signingIntervalMinutes (360)\n",
    })
    expect(listFiles(rel())).toEqual([])
  })

  test('a fleet from --flake is checked before any host is built', async () => {
    const { nix, log } = fakeNix(writeFleet('typo.json', withTypo))
    const r = await releaseFrom(['--flake', 'git+file:///fleet', '--nix', nix], rel())
    expectOneLineError(r, 2, 'nix eval git+file:///fleet#fleet.resolved: disruptionBudget:')
    expect(readFileSync(log, 'utf8')).toBe('eval --json git+file:///fleet#fleet.resolved\n')
    expect(listFiles(rel())).toEqual([])
  })
})

describe('release --flake, end to end', () => {
  test("the template's fleet is evaluated, built, signed, and verifies", async () => {
    const rel = join(dir, 'releases')
    const { nix, log } = fakeNix(TEMPLATE_FLEET)
    const r = await releaseFrom(['--flake', 'git+file:///fleet', '--nix', nix], rel)
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    expect(readFileSync(log, 'utf8').split('\n')).toEqual([
      'eval --json git+file:///fleet#fleet.resolved',
      ...['cp', 'web-01', 'web-02'].map(
        (h) =>
          `build --no-link --print-out-paths git+file:///fleet#nixosConfigurations.${h}.config.system.build.toplevel`
      ),
      '',
    ])
    expect(listFiles(rel)).toEqual([
      'fleet.resolved.json',
      'fleet.resolved.json.sig',
      `rollouts/infra@${CI}.json`,
      `rollouts/infra@${CI}.json.sig`,
      `rollouts/stable@${CI}.json`,
      `rollouts/stable@${CI}.json.sig`,
    ])
    const ids = [`infra@${CI}`, `stable@${CI}`]
    const written = verifyCommands(rel, writeTrust(), NOW, ids).filter((c) =>
      existsSync(join(rel, c.file))
    )
    expect(written.length).toBe(3)
    for (const { file, args } of written) {
      const out = await nf(args)
      expect({ file, code: out.code, stderr: out.stderr }).toEqual({ file, code: 0, stderr: '' })
    }
    for (const [channel, hosts] of [
      ['infra', ['cp']],
      ['stable', ['web-01', 'web-02']],
    ] as const) {
      const id = `${channel}@${CI}`
      const manifest = JSON.parse(read(join(rel, `rollouts/${id}.json`)).toString())
      expect(manifest.hostSet.map((h: { hostname: string }) => h.hostname)).toEqual(hosts)
      expect(manifest.hostSet[0].targetClosure).toBe(
        `0c6kzph7l0dcbfmjap64f0czdafn3b7x-nixos-system-${hosts[0]}`
      )
    }
  })
})

describe('fleet check', () => {
  const SUMMARY = [
    'valid — 3 hosts on 2 channels, 1 disruption budget, 0 host edges, 1 channel edge',
    'channel infra: 1 host, policy all-at-once, freshness window 1440 min, signed every 360 min',
    '  hosts: cp',
    '  wave 1 (soak 0 min): cp',
    'channel stable: 2 hosts, policy canary, freshness window 1440 min, signed every 360 min',
    '  hosts: web-01, web-02',
    '  wave 1 (soak 30 min): web-01',
    '  wave 2 (soak 0 min): web-02',
    'disruption budgets:',
    '  tags:web, at most 1 in flight: web-01, web-02',
    'host edges: none',
    'channel edges:',
    '  infra waits for stable (a release proves itself on the web tier before the control plane takes it)',
    '',
  ].join('\n')

  test('a valid fleet file prints its summary and exits 0', async () => {
    expect(await nf(['fleet', 'check', TEMPLATE_FLEET])).toEqual({
      code: 0,
      stdout: `fleet ${TEMPLATE_FLEET}: ${SUMMARY}`,
      stderr: '',
    })
  })

  test('--flake evaluates the fleet and builds nothing', async () => {
    const { nix, log } = fakeNix(TEMPLATE_FLEET)
    expect(await nf(['fleet', 'check', '--flake', '.', '--nix', nix])).toEqual({
      code: 0,
      stdout: `nix eval .#fleet.resolved: ${SUMMARY}`,
      stderr: '',
    })
    expect(readFileSync(log, 'utf8')).toBe('eval --json .#fleet.resolved\n')
  })

  test('an invalid fleet exits 1 listing the problems; --json prints them as one object', async () => {
    const fleet = writeFleet('typo.json', (f) => {
      withTypo(f)
      f.channels.stable.rolloutPolicyy = 'canary'
    })
    expect(await nf(['fleet', 'check', fleet])).toEqual({
      code: 1,
      stdout:
        `INVALID fleet ${fleet}: invalid fleet definition:\n` +
        '  - disruptionBudget: no such key (did you mean disruptionBudgets?)\n' +
        '  - channels.stable.rolloutPolicyy: no such key (did you mean rolloutPolicy?)\n',
      stderr: '',
    })
    const r = await nf(['fleet', 'check', '--json', fleet])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' })
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      source: `fleet ${fleet}`,
      title: 'invalid fleet definition',
      violations: [
        'disruptionBudget: no such key (did you mean disruptionBudgets?)',
        'channels.stable.rolloutPolicyy: no such key (did you mean rolloutPolicy?)',
      ],
    })
  })

  test('--json prints the summary of a valid fleet as one object', async () => {
    const r = await nf(['fleet', 'check', '--json', '-'], {
      stdin: readFileSync(TEMPLATE_FLEET),
    })
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' })
    const out = JSON.parse(r.stdout)
    expect([out.ok, out.source, out.summary.hosts]).toEqual([true, 'fleet stdin', 3])
    expect(out.summary.channels[1].waves).toEqual([
      { soakMinutes: 30, hosts: ['web-01'] },
      { soakMinutes: 0, hosts: ['web-02'] },
    ])
  })

  test('usage and I/O errors exit 2', async () => {
    expectOneLineError(await nf(['fleet', 'check']), 2, 'exactly one of FILE or --flake REF')
    expectOneLineError(
      await nf(['fleet', 'check', TEMPLATE_FLEET, '--flake', '.']),
      2,
      'exactly one of FILE or --flake REF'
    )
    const missing = join(dir, 'missing.json')
    expectOneLineError(await nf(['fleet', 'check', missing]), 2, missing, 'no such file')
    const { nix } = fakeNix(join(dir, 'missing.json'))
    expectOneLineError(
      await nf(['fleet', 'check', '--flake', '.', '--nix', nix]),
      2,
      'fleet check: nix eval .#fleet.resolved failed (exit 1)'
    )
  })
})
