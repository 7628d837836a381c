/**
 * End-to-end trust: a stale release, a tampered manifest and a replayed older release are never
 * adopted or activated (and status says why); a revoked host is refused from then on; a
 * replayed bootstrap token is refused.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Lab } from '../../src/lab/lab.ts'
import { createCsr } from '../../src/pki/csr.ts'
import { ed25519KeyPemFromSeed } from '../../src/pki/cert.ts'
import {
  DISPATCHES_QUEUED,
  converged,
  cpMetric,
  hostsOf,
  makeLab,
  planPassAfterNow,
  revokeInNewRelease,
  rid,
  until,
} from './support.ts'

// Each scenario runs a whole fleet of processes on a loaded 2-core machine.
setDefaultTimeout(180_000)

let lab: Lab | undefined
afterEach(async () => {
  await lab?.close()
  lab = undefined
})

const plan = (freshnessWindow = 1440) => ({
  channels: [
    { name: 'stable', soakMinutes: [0], onHealthFailure: 'halt' as const, freshnessWindow },
  ],
  hosts: [
    { name: 'web-1', channel: 'stable', wave: 0 },
    { name: 'web-2', channel: 'stable', wave: 0 },
  ],
})

type Status = { artifacts: { key: string; lastError: { kind: string; message: string } | null }[] }
const lastErrors = async (l: Lab): Promise<string[]> =>
  (await l.api<Status>('/v1/operator/status')).body.artifacts.flatMap((a) =>
    a.lastError ? [a.lastError.kind] : []
  )

const closuresFor = (l: Lab, release: string) =>
  Object.fromEntries([...l.hosts.keys()].map((h) => [h, l.closure(h, `${release}-${h}`)]))

async function fleetOnRelease1(l: Lab): Promise<{ c1: string; r1: Record<string, string> }> {
  const r1 = closuresFor(l, 'r1')
  const c1 = await l.release(r1)
  await l.startControlPlane()
  for (const h of l.hosts.keys()) l.startAgent(h)
  await until('release 1 converged', () => converged(l, c1, [...l.hosts.keys()]), 30_000)
  return { c1, r1 }
}

describe('trust', () => {
  test('a release signed outside its channel freshness window is not adopted, and status says why', async () => {
    lab = await makeLab(plan(60))
    const l = lab
    const closures = closuresFor(l, 'r1')
    const installed = l.currentClosure('web-1')
    // Signed two hours ago; the channel accepts manifests up to one hour old.
    await l.release(closures, {
      signedAt: new Date(Date.now() - 2 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    })
    await l.startControlPlane()
    for (const h of l.hosts.keys()) l.startAgent(h)
    await until(
      'a Stale verdict in status',
      async () => (await lastErrors(l)).includes('Stale'),
      20_000
    )
    // Once the planner has planned on that verdict: no rollout, no dispatch, no switch.
    await planPassAfterNow(l)
    expect((await l.api<{ rollouts: unknown[] }>('/v1/rollouts')).body.rollouts).toEqual([])
    expect(await cpMetric(l, DISPATCHES_QUEUED)).toBe(0)
    expect(l.currentClosure('web-1')).toBe(installed)
    expect(l.switchCount('web-1', closures['web-1']!)).toBe(0)
  })

  test('a tampered rollout manifest is never adopted: no agent activates it', async () => {
    lab = await makeLab(plan())
    const l = lab
    const { r1 } = await fleetOnRelease1(l)
    const queued = await cpMetric(l, DISPATCHES_QUEUED)
    const r2 = closuresFor(l, 'r2')
    const c2 = await l.release(r2)
    // Someone with write access to the release repository swaps web-2's target; the signature stays.
    const path = join(l.layout.releases, 'rollouts', `${rid('stable', c2)}.json`)
    const evil = l.closure('web-2', 'evil-web-2')
    writeFileSync(path, readFileSync(path, 'utf8').replace(r2['web-2']!, evil))
    await l.refresh()
    await until(
      'a BadSignature verdict in status',
      async () => (await lastErrors(l)).includes('BadSignature'),
      20_000
    )
    // Once the planner has planned on that verdict, nobody was dispatched again.
    await planPassAfterNow(l)
    expect(await cpMetric(l, DISPATCHES_QUEUED)).toBe(queued)
    for (const h of l.hosts.keys()) expect(l.currentClosure(h)).toBe(r1[h]!)
    expect(l.switchCount('web-2', evil)).toBe(0)
    expect(l.switchCount('web-2', r2['web-2']!)).toBe(0)
  })

  test('an older validly-signed release published again is refused (anti-rollback)', async () => {
    lab = await makeLab(plan())
    const l = lab
    const { c1 } = await fleetOnRelease1(l)
    const saved = join(l.layout.cpDir, 'release-1-copy')
    cpSync(l.layout.releases, saved, { recursive: true })
    // Release 2 must be signed in a later second (signatures are dated to the second).
    const signed1 = (
      await l.api<{ release: { fleet: { signedAt: string } } }>('/v1/operator/status')
    ).body.release.fleet.signedAt
    await until('a second later than release 1', () => Date.now() >= Date.parse(signed1) + 1_000)
    const r2 = closuresFor(l, 'r2')
    const c2 = await l.release(r2)
    await l.refresh()
    await until('release 2 converged', () => converged(l, c2, [...l.hosts.keys()]), 30_000)
    const queued = await cpMetric(l, DISPATCHES_QUEUED)

    cpSync(saved, l.layout.releases, { recursive: true, force: true })
    await l.refresh()
    await until(
      'a Rollback verdict in status',
      async () => (await lastErrors(l)).includes('Rollback'),
      20_000
    )
    // Once the planner has planned on that verdict, nobody was dispatched again.
    await planPassAfterNow(l)
    expect(await cpMetric(l, DISPATCHES_QUEUED)).toBe(queued)
    const hosts = await hostsOf(l)
    for (const h of l.hosts.keys()) {
      expect(hosts[h]?.lastRollout?.id).toBe(rid('stable', c2))
      expect(l.currentClosure(h)).toBe(r2[h]!)
    }
    expect(c1).not.toBe(c2)
  })

  test('a host revoked in a new signed revocation list gets 401 from then on', async () => {
    lab = await makeLab(plan())
    const l = lab
    await fleetOnRelease1(l)
    const asHost = async (host: string) => {
      const h = l.hosts.get(host)!
      const res = await fetch(`https://127.0.0.1:${l.port}/v1/whoami`, {
        headers: { 'x-nixfleet-protocol': '1' },
        tls: {
          cert: readFileSync(join(h.dir, 'state', 'agent.crt'), 'utf8'),
          key: ed25519KeyPemFromSeed(h.seed),
          ca: readFileSync(join(l.layout.ca, 'ca.pem'), 'utf8'),
        },
      })
      await res.body?.cancel()
      return res.status
    }
    expect(await asHost('web-1')).toBe(200)
    // Certificates issued before now are revoked (the key is presumed compromised).
    await revokeInNewRelease(l, 'web-1', closuresFor(l, 'r2'))
    await until('web-1 refused', async () => (await asHost('web-1')) === 401, 20_000)
    expect(await asHost('web-2')).toBe(200)
  })

  test('a replayed bootstrap token is refused with 409', async () => {
    lab = await makeLab(plan())
    const l = lab
    await fleetOnRelease1(l)
    const h = l.hosts.get('web-1')!
    const token = JSON.parse(readFileSync(join(h.dir, 'bootstrap-token.json'), 'utf8')) as unknown
    const csrPem = await createCsr({ seed: h.seed, commonName: 'web-1' })
    const res = await fetch(`https://127.0.0.1:${l.port}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-nixfleet-protocol': '1' },
      body: JSON.stringify({ token, csrPem }),
      tls: { ca: readFileSync(join(l.layout.ca, 'ca.pem'), 'utf8') },
    })
    expect(res.status).toBe(409)
    expect(await res.json()).toHaveProperty('error')
  })
})
