/**
 * `nixfleet release --resign` through the compiled binary: the release directory is signed
 * again with a new signedAt and nothing else (same rollout ids, content equal but for
 * meta.signedAt, signatures valid under the trust file), and a re-sign that would change content
 * or go back in time is refused with nothing written.
 */
import { beforeEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT, runNixfleet } from '../support/binary.ts'

const FIXTURES = join(REPO_ROOT, 'tests', 'fixtures')
const CI = '0123456789abcdef0123456789abcdef01234567'

let dir = ''
const rel = () => join(dir, 'releases')

const nf = runNixfleet

const snapshot = (): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const sub of ['', 'rollouts'])
    for (const f of readdirSync(join(rel(), sub)))
      if (f.includes('.json')) out[join(sub, f)] = readFileSync(join(rel(), sub, f), 'hex')
  return out
}

const json = (path: string) => JSON.parse(readFileSync(join(rel(), path), 'utf8'))
const withoutSignedAt = (x: { meta: Record<string, unknown> }) => ({
  ...x,
  meta: { ...x.meta, signedAt: undefined },
})

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-resign-'))
  expect((await nf(['keygen', '--out', join(dir, 'ci')])).code).toBe(0)
  const r = await nf([
    'release',
    '--fleet',
    join(FIXTURES, 'fleet.json'),
    '--closures',
    join(FIXTURES, 'closures.json'),
    '--key',
    join(dir, 'ci.key'),
    '--ci-commit',
    CI,
    '--release-dir',
    rel(),
    '--now',
    '2026-05-01T12:00:00Z',
    '--revocations',
    join(FIXTURES, 'revocations.json'),
  ])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
})

const resign = (now: string, extra: string[] = []) =>
  nf([
    'release',
    '--resign',
    '--key',
    join(dir, 'ci.key'),
    '--release-dir',
    rel(),
    '--now',
    now,
    ...extra,
  ])

describe('release --resign', () => {
  test('same content and rollout ids, a new signedAt, valid signatures', async () => {
    const before = json('fleet.resolved.json')
    const manifests = readdirSync(join(rel(), 'rollouts')).sort()
    const r = await resign('2026-05-01T13:00:00Z')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('signedAt 2026-05-01T13:00:00Z, was 2026-05-01T12:00:00Z')
    const after = json('fleet.resolved.json')
    expect(after.meta.signedAt).toBe('2026-05-01T13:00:00Z')
    expect(withoutSignedAt(after)).toEqual(withoutSignedAt(before))
    expect(json('revocations.json').meta.signedAt).toBe('2026-05-01T13:00:00Z')
    expect(readdirSync(join(rel(), 'rollouts')).sort()).toEqual(manifests)
    const stable = json(`rollouts/stable@${CI}.json`)
    expect(stable.meta.signedAt).toBe('2026-05-01T13:00:00Z')
    expect(stable.channelRef).toBe(CI)

    const trust = join(dir, 'trust.json')
    const init = await nf([
      'trust',
      'init',
      '--ci-release-key',
      join(dir, 'ci.pub'),
      '--out',
      trust,
    ])
    expect(init.code).toBe(0)
    const v = await nf([
      'verify',
      'artifact',
      '--artifact',
      join(rel(), 'fleet.resolved.json'),
      '--signature',
      join(rel(), 'fleet.resolved.json.sig'),
      '--trust-file',
      trust,
      '--now',
      '2026-05-01T13:00:00Z',
    ])
    expect(v.stderr).toBe('')
    expect(v.code).toBe(0)
  })

  test('refuses, writing nothing, when the content would change or time goes back', async () => {
    const before = snapshot()
    const commit = await resign('2026-05-01T13:00:00Z', ['--ci-commit', 'f'.repeat(40)])
    expect(commit.code).toBe(2)
    expect(commit.stderr).toContain(
      'the content would change (fleet.resolved.json changed at meta.ciCommit)'
    )
    expect(commit.stderr).toContain('nothing written')
    const older = await resign('2026-05-01T11:00:00Z')
    expect(older.code).toBe(2)
    expect(older.stderr).toContain('is not newer than the released 2026-05-01T12:00:00Z')
    const input = await resign('2026-05-01T13:00:00Z', ['--fleet', join(FIXTURES, 'fleet.json')])
    expect(input.code).toBe(2)
    expect(input.stderr).toContain('it takes no --fleet')
    // A pin that expired since the release would be dropped by signing: that is new content.
    const fleet = json('fleet.resolved.json')
    fleet.hosts['web-01'].pin = { closure: 'x', expiresAt: '2026-05-01T12:30:00Z' }
    writeFileSync(join(rel(), 'fleet.resolved.json'), JSON.stringify(fleet))
    const pinned = await resign('2026-05-01T13:00:00Z')
    expect(pinned.code).toBe(2)
    expect(pinned.stderr).toContain('fleet.resolved.json changed at hosts.web-01.pin')
    const after: Record<string, string | undefined> = snapshot()
    after['fleet.resolved.json'] = before['fleet.resolved.json']
    expect(after).toEqual(before)
  })
})
