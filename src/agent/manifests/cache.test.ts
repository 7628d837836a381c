/**
 * The agent's own verification of what the CP serves: releases signed with the real release
 * code, served over HTTPS by a stand-in CP, judged with a fake clock. Covers acceptance,
 * tampering, staleness (global and per channel), replayed older releases (anti-rollback),
 * anchor and discriminator substitution, target and host mismatches, re-anchoring after the
 * marks are lost, and the disk cache.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { JsonValue } from '../../crypto/canonical-json.ts'
import { AgentClient } from '../cp-client.ts'
import type { Dispatch } from '../../proto/agent.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { createLogger } from '../../runtime/log.ts'
import { AnchorStore } from '../anchors.ts'
import {
  closureId,
  httpsServer,
  jsonReply,
  removeDir,
  seedOf,
  signJson,
  signRelease,
  tempDir,
  testPki,
  trustFileFor,
  type FleetSpec,
  type SignedRelease,
  type TestPki,
  type TestServer,
} from '../../../tests/support/fixtures.ts'
import { sha256Hex } from '../../crypto/sha256.ts'
import { ManifestCache } from './cache.ts'
import { M, Metrics } from '../metrics.ts'
import { TrustSource } from '../trust.ts'

const CI = seedOf('ci')
const T0 = Date.UTC(2026, 4, 1, 12, 0, 0)
const C1 = '1111111111111111111111111111111111111111'
const C2 = '2222222222222222222222222222222222222222'
const V1 = closureId('v1')
const V2 = closureId('v2')

let pki: TestPki
let server: TestServer
let served: {
  fleet?: { bytes: Uint8Array; signature: Uint8Array } | undefined
  rollouts: Map<string, { bytes: Uint8Array; signature: Uint8Array }>
}
let dir = ''
// Whether the stand-in honours `?sha256=` pins (the CP does; an older CP does not).
let pinning = true
// Run once each after serving an artifact's bytes (a release published between two requests).
let afterBytes: (() => void)[] = []
let clock: FakeClock
let logs: string[]

const spec = (closure: string, extra: Partial<FleetSpec> = {}): FleetSpec => ({
  hosts: { 'web-01': { closure }, 'web-02': { closure: closureId('other') } },
  ...extra,
})

function serve(release: SignedRelease): void {
  served = { fleet: release.files.get('fleet.resolved.json'), rollouts: new Map() }
  for (const [path, f] of release.files) {
    if (path.startsWith('rollouts/'))
      served.rollouts.set(path.slice('rollouts/'.length, -'.json'.length), f)
  }
}

beforeAll(async () => {
  pki = await testPki()
  server = await httpsServer(pki, (req) => {
    const url = new URL(req.path, 'https://cp')
    const path = decodeURIComponent(url.pathname)
    const sig = path.endsWith('/sig')
    const base = sig ? path.slice(0, -4) : path
    const art =
      base === '/v1/fleet.resolved'
        ? served.fleet
        : served.rollouts.get(base.replace('/v1/rollouts/', ''))
    if (!art) return jsonReply({ error: 'not found' }, 404)
    // As the CP does: a signature pinned to other bytes than the current ones is a 409.
    const pin = url.searchParams.get('sha256')
    if (sig && pinning && pin !== null && pin !== sha256Hex(art.bytes))
      return jsonReply({ error: 'artifact changed' }, 409)
    if (!sig) afterBytes.shift()?.()
    return { status: 200, body: sig ? art.signature : art.bytes }
  })
})
afterAll(() => server.stop())

beforeEach(() => {
  pinning = true
  afterBytes = []
  dir = tempDir()
  clock = new FakeClock(T0)
  logs = []
  writeFileSync(join(dir, 'trust.json'), trustFileFor(CI))
})
afterEach(() => removeDir(dir))

function cache(machineId = 'web-01', windowSecs = 3600, firstBoot = false) {
  const metrics = new Metrics()
  const reanchors: number[] = []
  const log = createLogger({
    component: 't',
    sink: (l) => void logs.push(l),
    now: () => clock.now(),
  })
  const anchors = new AnchorStore(join(dir, 'state'))
  const c = new ManifestCache({
    client: new AgentClient({
      baseUrls: [server.url],
      identity: () => ({ ca: pki.ca.certPem }),
      userAgent: 't',
    }),
    trust: new TrustSource(join(dir, 'trust.json'), () => {}),
    anchors,
    stateDir: join(dir, 'state'),
    machineId,
    freshnessWindowSecs: windowSecs,
    clock,
    log,
    metrics,
    onReanchor: (at) => void reanchors.push(at),
    firstBoot,
  })
  return { c, metrics, reanchors, anchors }
}

function dispatch(rolloutId: string, target: string, hostname = 'web-01'): Dispatch {
  return {
    hostname,
    rollout_id: rolloutId,
    target_closure: target,
    soak_due_at: '2026-05-01T12:00:00Z',
    enqueued_at: '2026-05-01T12:00:00Z',
    wave_index: 0,
  } as Dispatch
}

describe('ManifestCache', () => {
  test('verifies the fleet and the own channel manifest, and accepts a matching dispatch', async () => {
    const rel = signRelease(spec(V1), CI, C1, T0)
    serve(rel)
    const { c, reanchors } = cache()
    expect(await c.poll()).toEqual({ ok: true })
    expect(c.view()?.rolloutId).toBe(`stable@${C1}`)
    expect(reanchors).toEqual([T0]) // first boot: marks did not exist
    const ok = await c.acceptDispatch(dispatch(`stable@${C1}`, V1))
    expect(ok).toEqual({
      ok: true,
      value: {
        rolloutId: `stable@${C1}`,
        channel: 'stable',
        targetClosure: V1,
        waveIndex: 0,
        policy: { onHealthFailure: 'rollback-and-halt', soakMs: 0, sustainedFailureMs: 60_000 },
      },
    })
  })

  test('refuses a dispatch whose target is not the signed one, or addressed elsewhere', async () => {
    serve(signRelease(spec(V1), CI, C1, T0))
    const { c } = cache()
    expect(await c.acceptDispatch(dispatch(`stable@${C1}`, V2))).toMatchObject({
      ok: false,
      refusal: { kind: 'TargetMismatch' },
    })
    expect(await c.acceptDispatch(dispatch(`stable@${C1}`, V1, 'web-02'))).toMatchObject({
      ok: false,
      refusal: { kind: 'WrongHost' },
    })
    expect(await c.acceptDispatch(dispatch(`edge@${C1}`, V1))).toMatchObject({
      ok: false,
      refusal: { kind: 'WrongChannel' },
    })
  })

  test('a tampered manifest (bytes changed after signing) is refused: BadSignature', async () => {
    const rel = signRelease(spec(V1), CI, C1, T0)
    serve(rel)
    const m = served.rollouts.get(`stable@${C1}`)!
    const text = new TextDecoder().decode(m.bytes).replace(V1, V2)
    served.rollouts.set(`stable@${C1}`, {
      bytes: new TextEncoder().encode(text),
      signature: m.signature,
    })
    const { c, metrics } = cache()
    expect(await c.poll()).toEqual({
      ok: false,
      error: `rollout manifest stable@${C1} refused: BadSignature`,
    })
    expect(await c.acceptDispatch(dispatch(`stable@${C1}`, V2))).toMatchObject({
      ok: false,
      refusal: { kind: 'BadSignature' },
    })
    expect(
      metrics.value(M.manifestRejections, { artifact: 'rollout-manifest', kind: 'bad-signature' })
    ).toBeGreaterThanOrEqual(1)
    expect(
      logs.some((l) => l.includes('"msg":"signed artifact refused"') && l.includes('BadSignature'))
    ).toBe(true)
  })

  for (const pins of [true, false]) {
    test(`a release published between the artifact and its signature is no BadSignature (${pins ? 'pinned signature' : 'CP without pins'})`, async () => {
      pinning = pins
      serve(signRelease(spec(V1), CI, C1, T0))
      const { c, metrics } = cache()
      expect(await c.poll()).toEqual({ ok: true })
      // The next fleet bytes are the old release's; the CP adopts a new one before the /sig.
      const next = signRelease(spec(V2), CI, C2, T0 + 1000)
      afterBytes.push(() => serve(next))
      expect(await c.poll()).toEqual({ ok: true })
      expect(c.view()?.rolloutId).toBe(`stable@${C2}`)
      const rejected = metrics.value(M.manifestRejections, {
        artifact: 'fleet',
        kind: 'bad-signature',
      })
      expect(rejected ?? 0).toBe(0)
    })
  }

  test('a fleet signed by another key is refused and never replaces the good view', async () => {
    serve(signRelease(spec(V1), CI, C1, T0))
    const { c } = cache()
    await c.poll()
    serve(signRelease(spec(V2), seedOf('attacker'), C2, T0 + 1000))
    expect(await c.poll()).toEqual({ ok: false, error: 'fleet.resolved refused: BadSignature' })
    expect(c.view()?.rolloutId).toBe(`stable@${C1}`)
    expect(await c.acceptDispatch(dispatch(`stable@${C2}`, V2))).toMatchObject({
      ok: false,
      refusal: { kind: 'BadSignature' },
    })
  })

  test('a stale manifest is refused at dispatch time, even if it was fresh when polled', async () => {
    serve(signRelease(spec(V1), CI, C1, T0))
    const { c } = cache()
    await c.poll()
    clock.advance(2 * 3600_000)
    const r = await c.acceptDispatch(dispatch(`stable@${C1}`, V1))
    expect(r).toMatchObject({ ok: false, refusal: { kind: 'Stale' } })
  })

  test("the channel's own freshnessWindow applies when shorter than the agent's", async () => {
    serve(signRelease(spec(V1, { freshnessWindowMinutes: 10 }), CI, C1, T0))
    const { c } = cache('web-01', 86_400)
    clock.advance(20 * 60_000)
    expect(await c.poll()).toEqual({
      ok: false,
      error: `rollout manifest stable@${C1} refused: Stale`,
    })
  })

  test('a replayed older release is refused as Rollback, on poll and on dispatch', async () => {
    const old = signRelease(spec(V1), CI, C1, T0)
    const fresh = signRelease(spec(V2), CI, C2, T0 + 60_000)
    serve(fresh)
    const { c, metrics } = cache()
    clock.advance(60_000)
    expect(await c.poll()).toEqual({ ok: true })
    serve(old)
    expect(await c.poll()).toEqual({ ok: false, error: 'fleet.resolved refused: Rollback' })
    expect(c.view()?.rolloutId).toBe(`stable@${C2}`)
    // Both releases' manifests are served; the dispatch names the older one.
    served.rollouts.set(`stable@${C2}`, fresh.files.get(`rollouts/stable@${C2}.json`)!)
    const r = await c.acceptDispatch(dispatch(`stable@${C1}`, V1))
    expect(r).toMatchObject({ ok: false, refusal: { kind: 'Rollback' } })
    expect(metrics.value(M.manifestRejections, { artifact: 'fleet', kind: 'rollback' })).toBe(2)
  })

  test('anti-rollback marks survive a restart; a wiped state dir re-anchors and says so', async () => {
    const old = signRelease(spec(V1), CI, C1, T0)
    const fresh = signRelease(spec(V2), CI, C2, T0 + 60_000)
    clock.advance(60_000)
    serve(fresh)
    expect(await cache().c.poll()).toEqual({ ok: true })
    serve(old)
    const second = cache()
    expect(second.anchors.startProblem).toBeUndefined()
    expect(await second.c.poll()).toEqual({ ok: false, error: 'fleet.resolved refused: Rollback' })
    expect(second.reanchors).toEqual([])
    rmSync(join(dir, 'state'), { recursive: true })
    const wiped = cache()
    expect(wiped.anchors.startProblem).toBe('missing')
    expect(await wiped.c.poll()).toEqual({ ok: true })
    expect(wiped.reanchors).toEqual([T0 + 60_000])
    expect(wiped.anchors.reanchoredAt).toBe(T0 + 60_000)
    expect(wiped.metrics.value(M.anchorResets)).toBe(1)
    const reanchorLine = (prefix: string) =>
      logs.some(
        (l) =>
          l.startsWith(prefix) &&
          l.includes('anti-rollback marks missing; re-anchored on the control plane artifacts')
      )
    expect(reanchorLine('<4>')).toBe(true)
    // A host that enrolled at this start anchors for the first time: news, not a warning.
    logs.length = 0
    rmSync(join(dir, 'state'), { recursive: true })
    const newHost = cache('web-01', 3600, true)
    expect(await newHost.c.poll()).toEqual({ ok: true })
    expect(newHost.reanchors.length).toBe(1)
    expect(reanchorLine('<4>')).toBe(false)
    expect(
      logs.some(
        (l) =>
          l.startsWith('<6>') &&
          l.includes('first start: anti-rollback marks anchored on the control plane artifacts')
      )
    ).toBe(true)
  })

  test('a validly signed manifest that does not anchor to the fleet is refused', async () => {
    const rel = signRelease(spec(V1), CI, C1, T0)
    serve(rel)
    const m = JSON.parse(
      new TextDecoder().decode(served.rollouts.get(`stable@${C1}`)!.bytes)
    ) as Record<string, JsonValue>
    served.rollouts.set(`stable@${C1}`, signJson({ ...m, fleetResolvedHash: '0'.repeat(64) }, CI))
    const { c } = cache()
    expect(await c.poll()).toEqual({
      ok: false,
      error: `rollout manifest stable@${C1} refused: AnchorMismatch`,
    })
  })

  test('a manifest served under another rollout id is refused (discriminator)', async () => {
    serve(signRelease(spec(V1), CI, C1, T0))
    const other = signRelease(spec(V1, { channel: 'edge' }), CI, C1, T0)
    served.rollouts.set(`stable@${C1}`, other.files.get(`rollouts/edge@${C1}.json`)!)
    const { c } = cache()
    expect(await c.poll()).toEqual({
      ok: false,
      error: `rollout manifest stable@${C1} refused: RolloutIdMismatch`,
    })
  })

  test('a host missing from the manifest cannot be dispatched', async () => {
    serve(signRelease({ hosts: { 'web-01': {}, 'web-02': { closure: V1 } } }, CI, C1, T0))
    const { c } = cache()
    expect(await c.poll()).toEqual({ ok: true })
    expect(await c.acceptDispatch(dispatch(`stable@${C1}`, V1))).toMatchObject({
      ok: false,
      refusal: { kind: 'NotInManifest' },
    })
  })

  test('the disk cache is re-verified at start, and ignored once stale', async () => {
    serve(signRelease(spec(V1), CI, C1, T0))
    await cache().c.poll()
    served = { rollouts: new Map() } // CP now unreachable for artifacts
    const reloaded = cache()
    await reloaded.c.loadFromDisk()
    expect(reloaded.c.view()?.rolloutId).toBe(`stable@${C1}`)
    expect(reloaded.c.signedRecordFacts(`stable@${C1}`)).toMatchObject({
      targetClosure: V1,
      waveIndex: 0,
    })
    clock.advance(3 * 3600_000)
    const late = cache()
    await late.c.loadFromDisk()
    expect(late.c.view()).toBeUndefined()
  })
})
