/**
 * The control plane over real mTLS on 127.0.0.1 (port 0) with a real SQLite file: identity and
 * roles, revocation, enrolment (including a single-use token raced by two requests), renewal,
 * long-poll delivery and timeout, anti-rollback, a tampered manifest, a CP whose database was
 * deleted, body errors, readiness and the protocol header.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseCertificate } from '../../src/pki/cert.ts'
import { createCa } from '../../src/pki/ca.ts'
import { FakeClock } from '../../src/runtime/clock.ts'
import {
  activationEvents,
  Client,
  closureOf,
  eventually,
  Lab,
  startCp,
  T0,
  type FleetSpec,
  type TestCp,
} from './cp-support.ts'

const iso = (ms: number): string => new Date(ms).toISOString()

let lab: Lab
let t: TestCp | undefined

beforeEach(async () => {
  lab = await Lab.create()
})
afterEach(async () => {
  await t?.stop()
  t = undefined
  lab.cleanup()
})

const twoWaves: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
  channels: { stable: { waves: [['h1'], ['h2']] } },
}

describe('identity, roles and revocation', () => {
  test('no certificate 401, wrong role 403, CN ≠ hostname 403, foreign CA 401', async () => {
    lab.publish(twoWaves)
    t = await startCp(lab)
    const hb = { hostname: 'h1', current_closure: null, at: iso(T0) }
    expect((await t.anonymous().send('POST', '/v1/agent/heartbeat', hb)).status).toBe(401)
    expect((await t.anonymous().send('GET', '/v1/hosts')).status).toBe(401)
    const a1 = await t.agent('h1')
    expect((await a1.send('GET', '/v1/hosts')).status).toBe(403)
    expect((await a1.send('GET', '/metrics')).status).toBe(403)
    expect((await t.operator.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(403)
    const mismatch = await a1.send('POST', '/v1/agent/heartbeat', { ...hb, hostname: 'h2' })
    expect(mismatch.status).toBe(403)
    expect(mismatch.json()).toEqual({ error: 'certificate does not belong to the body hostname' })
    expect((await a1.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(200)
    // Both roles may read the signed artifacts and ask who they are.
    expect((await a1.send('GET', '/v1/fleet.resolved')).status).toBe(200)
    expect((await t.operator.send('GET', '/v1/fleet.resolved/sig')).status).toBe(200)
    expect((await a1.send('GET', '/v1/whoami')).json()).toMatchObject({
      cn: 'agent-h1.fleet.test',
      role: 'agent',
    })
    // A certificate from another CA is no identity at all.
    const other = await createCa({ commonName: 'Other CA', validityDays: 10, now: Date.now() })
    const stranger = new Client(t.port, lab, await lab.agentCert('h1', { ca: other }))
    expect((await stranger.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(401)
    stranger.close()
  })

  test('a certificate issued before its host revocation is refused; a newer one is accepted', async () => {
    // Revoked 30 s ago: the agent's certificate (issued a minute ago) predates it.
    const revokedAt = Date.now() - 30_000
    lab.publish(twoWaves, {
      revocations: {
        revocations: [
          {
            hostname: 'h1',
            notBefore: new Date(revokedAt).toISOString().replace(/\.\d+Z$/, 'Z'),
            reason: 'stolen',
            revokedBy: 'alice',
          },
        ],
      },
    })
    t = await startCp(lab)
    const hb = (h: string) => ({ hostname: h, current_closure: null, at: iso(T0) })
    const old = await t.agent('h1') // issued a minute ago
    const r = await old.send('POST', '/v1/agent/heartbeat', hb('h1'))
    expect(r.status).toBe(401)
    expect(r.json()).toEqual({ error: 'certificate revoked' })
    const fresh = new Client(t.port, lab, await lab.agentCert('h1', { now: revokedAt + 10_000 }))
    expect((await fresh.send('POST', '/v1/agent/heartbeat', hb('h1'))).status).toBe(200)
    fresh.close()
    expect((await (await t.agent('h2')).send('POST', '/v1/agent/heartbeat', hb('h2'))).status).toBe(
      200
    )
    // Revocations persist across restarts (cert_revocations).
    await t.stop()
    t = await startCp(lab)
    expect(t.cp.state.revocations.get('h1')?.reason).toBe('stolen')
  })
})

describe('enrolment and renewal', () => {
  test('one token raced by two enrolments: exactly one 200 and one 409; the certificate works', async () => {
    const tok = lab.token('h1', { now: Date.now() - 60_000 })
    lab.publish(twoWaves, { nonces: { bootstrapNonces: [tok.entry] } })
    t = await startCp(lab)
    t.clock.set(Date.now())
    const csr = await lab.csr('h1')
    const anon1 = t.anonymous()
    const anon2 = t.anonymous()
    const [r1, r2] = await Promise.all([
      anon1.send('POST', '/v1/enroll', { token: tok.token, csrPem: csr }),
      anon2.send('POST', '/v1/enroll', { token: tok.token, csrPem: csr }),
    ])
    expect([r1.status, r2.status].sort()).toEqual([200, 409])
    const ok = r1.status === 200 ? r1.json() : r2.json()
    const cert = parseCertificate(ok.certPem)
    expect(cert.ok && cert.commonName).toBe('agent-h1.fleet.test')
    expect(cert.ok && cert.sanDns).toEqual(['agent-h1.fleet.test'])
    expect(cert.ok && cert.extKeyUsage).toEqual(['clientAuth'])
    const audit = readFileSync(join(lab.dir, 'issuance.log'), 'utf8').trim().split('\n')
    expect(audit).toHaveLength(1)
    expect(JSON.parse(audit[0]!)).toMatchObject({
      requester_cn: '<enroll>',
      issued_cn: 'agent-h1.fleet.test',
      context: `enroll/nonce:${(tok.entry as { nonce: string }).nonce}`,
    })

    // The issued certificate authenticates the agent; renewal keeps the mTLS identity.
    const { ed25519KeyPemFromSeed } = await import('../../src/pki/cert.ts')
    const enrolled = new Client(t.port, lab, {
      cert: ok.certPem,
      key: ed25519KeyPemFromSeed(lab.hostKey('h1').seed),
    })
    expect(
      (await enrolled.send('POST', '/v1/agent/heartbeat', { hostname: 'h1', at: iso(T0) })).status
    ).toBe(200)
    // Renewal is allowed once a quarter of the lifetime has passed.
    t.clock.advance(6 * 3600_000)
    const renewed = await enrolled.send('POST', '/v1/agent/renew', { csrPem: await lab.csr('h1') })
    expect(renewed.status).toBe(200)
    const rc = parseCertificate(renewed.json().certPem)
    expect(rc.ok && rc.commonName).toBe('agent-h1.fleet.test')
    enrolled.close()
  })

  test('enrolment refusals: not allow-listed 401, bad signature 401, wrong key 401, bad CSR 400', async () => {
    const good = lab.token('h1', { now: Date.now() - 60_000 })
    lab.publish(twoWaves, { nonces: { bootstrapNonces: [good.entry] } })
    t = await startCp(lab)
    t.clock.set(Date.now())
    const anon = t.anonymous()
    const csr = await lab.csr('h1')
    const unlisted = lab.token('h1', { now: Date.now() - 60_000 })
    expect(
      (await anon.send('POST', '/v1/enroll', { token: unlisted.token, csrPem: csr })).status
    ).toBe(401)
    const forged = { ...good.token, signature: Buffer.alloc(64, 1).toString('base64') }
    const f = await anon.send('POST', '/v1/enroll', { token: forged, csrPem: csr })
    expect(f.status).toBe(401)
    expect(f.json().error).toContain('signature')
    const otherCsr = await lab.csr('h2')
    expect(
      (await anon.send('POST', '/v1/enroll', { token: good.token, csrPem: otherCsr })).status
    ).toBe(401)
    expect(
      (await anon.send('POST', '/v1/enroll', { token: good.token, csrPem: 'not a csr' })).status
    ).toBe(400)
    // None of the refusals burnt the nonce.
    expect((await anon.send('POST', '/v1/enroll', { token: good.token, csrPem: csr })).status).toBe(
      200
    )
  })
})

describe('single-use bootstrap tokens', () => {
  test('a used nonce is remembered until its token expires, past the 24 h retention', async () => {
    const start = Date.now()
    // A 72 h token, used once.
    const tok = lab.token('h1', { now: start - 60_000, hours: 72 })
    lab.publish(twoWaves, { signedAt: start - 60_000, nonces: { bootstrapNonces: [tok.entry] } })
    const clock = new FakeClock(start - 10_000)
    t = await startCp(lab, { clock })
    const csrPem = await lab.csr('h1')
    const anon = t.anonymous()
    expect((await anon.send('POST', '/v1/enroll', { token: tok.token, csrPem })).status).toBe(200)
    // Two days later (the signed artifacts stay fresh: 30 days) a retention pass runs.
    clock.set(start + 48 * 3600_000)
    await t.cp.mutator.request({ type: 'Prune' })
    const replay = await anon.send('POST', '/v1/enroll', { token: tok.token, csrPem })
    expect(replay.status).toBe(409)
    expect(replay.json()).toEqual({ error: 'bootstrap token already used' })
    // Once the token has expired it is refused as expired anyway, and may be forgotten.
    clock.set(start + 73 * 3600_000)
    expect((await t.cp.mutator.request({ type: 'Prune' }))?.nonces).toBe(1)
  })
})

describe('single-use bootstrap tokens after a lost database', () => {
  test('after the CP lost its database a used token is refused until the allow-list is re-signed with mintedAfter', async () => {
    const start = Date.now()
    const used = lab.token('h1', { now: start - 2 * 3600_000 })
    lab.publish(twoWaves, { signedAt: start - 60_000, nonces: { bootstrapNonces: [used.entry] } })
    t = await startCp(lab, { clock: new FakeClock(start - 10_000) })
    const csrPem = await lab.csr('h1')
    const enrol = (token: Record<string, unknown>) =>
      t!.anonymous().send('POST', '/v1/enroll', { token, csrPem })
    expect((await enrol(used.token)).status).toBe(200)
    // The database is lost: the CP no longer knows the nonce was used. The marks file beside it
    // survives, and tells the new database from a fresh install.
    await t.stop()
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm'])
      rmSync(join(lab.dir, f), { force: true })
    const lostAt = start - 5000
    const clock = new FakeClock(lostAt)
    t = await startCp(lab, { clock })
    expect(existsSync(join(lab.dir, 'state.db-lost.json'))).toBe(true)
    const replay = await enrol(used.token)
    expect(replay.status).toBe(401)
    expect(replay.json().error).toContain('re-sign the bootstrap-nonces list with mintedAfter')
    // A restart with the new database is no new loss.
    await t.stop()
    t = await startCp(lab, { clock })
    expect((await enrol(used.token)).status).toBe(401)
    // The operator re-signs the allow-list after the loss with a floor after every token that
    // may have been used, and mints a new token for the host.
    clock.set(start)
    const fresh = lab.token('h1', { now: start - 30_000 })
    lab.publish(twoWaves, {
      signedAt: start - 2000,
      nonces: { bootstrapNonces: [used.entry, fresh.entry], mintedAfter: iso(start - 60_000) },
    })
    expect((await t.operator.send('POST', '/v1/operator/refresh')).status).toBe(200)
    const again = await enrol(used.token)
    expect(again.status).toBe(401)
    expect(again.json().error).toContain("allow-list's mintedAfter floor")
    expect((await enrol(fresh.token)).status).toBe(200)
  })
})

describe('revocation cuts a host off', () => {
  test('renewal is rate-limited; a certificate renewed before the CP adopted the revocation is revoked until the host re-enrols', async () => {
    const start = Date.now()
    const tok = lab.token('h1', { now: start - 60_000 })
    const nonces = { bootstrapNonces: [tok.entry] }
    lab.publish(twoWaves, { signedAt: start - 60_000, nonces, revocations: { revocations: [] } })
    // The CP's clock runs a few seconds behind the real one, so what it issues is usable at once.
    const clock = new FakeClock(start - 10_000)
    t = await startCp(lab, { clock })
    const { ed25519KeyPemFromSeed } = await import('../../src/pki/cert.ts')
    const key = ed25519KeyPemFromSeed(lab.hostKey('h1').seed)
    const csrPem = await lab.csr('h1')
    const hb = { hostname: 'h1', at: iso(start) }

    // A certificate a quarter of its 24 h lifetime old renews once; then not again for a quarter.
    const old = new Client(t.port, lab, await lab.agentCert('h1', { now: start - 7 * 3600_000 }))
    const renewed = await old.send('POST', '/v1/agent/renew', { csrPem })
    expect(renewed.status).toBe(200)
    const b = new Client(t.port, lab, { cert: renewed.json().certPem, key })
    const burst = await Promise.all(
      [old, b, b, b].map((c) => c.send('POST', '/v1/agent/renew', { csrPem }))
    )
    expect(burst.map((r) => r.status)).toEqual([429, 429, 429, 429])
    const wait = Number(burst[1]!.headers['retry-after'])
    expect(wait).toBeGreaterThan(6 * 3600 - 60)
    expect(wait).toBeLessThanOrEqual(6 * 3600)
    expect((await b.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(200)

    // The revocation was signed for a minute before that renewal; the CP adopts it only now.
    clock.set(start - 5000)
    const revoked = {
      hostname: 'h1',
      notBefore: iso(start - 60_000).replace(/\.\d+Z$/, 'Z'),
      reason: 'stolen',
      revokedBy: 'alice',
    }
    lab.publish(twoWaves, {
      signedAt: start - 30_000,
      nonces,
      revocations: { revocations: [revoked] },
    })
    expect((await t.operator.send('POST', '/v1/operator/refresh')).status).toBe(200)
    expect(t.cp.state.revocations.get('h1')?.reason).toBe('stolen')
    const cut = await b.send('POST', '/v1/agent/heartbeat', hb)
    expect(cut.status).toBe(401)
    expect(cut.json()).toEqual({ error: 'certificate revoked' })
    // Nor can it renew, however long it waits.
    clock.set(start + 7 * 3600_000)
    expect((await b.send('POST', '/v1/agent/renew', { csrPem })).status).toBe(401)

    // Re-enrolment with a fresh token gives a certificate that works (and is rate-limited too).
    clock.set(start)
    const enrolled = await t.anonymous().send('POST', '/v1/enroll', { token: tok.token, csrPem })
    expect(enrolled.status).toBe(200)
    const c = new Client(t.port, lab, { cert: enrolled.json().certPem, key })
    expect((await c.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(200)
    expect((await c.send('POST', '/v1/agent/renew', { csrPem })).status).toBe(429)

    // A later list that keeps the entry, and a restart, do not move the adoption time forward.
    clock.set(Date.now())
    lab.publish(twoWaves, {
      signedAt: start - 20_000,
      nonces,
      revocations: { revocations: [revoked, { ...revoked, hostname: 'h2' }] },
    })
    expect((await t.operator.send('POST', '/v1/operator/refresh')).status).toBe(200)
    expect(t.cp.state.revocations.get('h2')).toBeDefined()
    expect((await c.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(200)
    c.close()
    b.close()
    old.close()
    await t.stop()
    t = await startCp(lab, { clock: new FakeClock(Date.now()) })
    const after = new Client(t.port, lab, { cert: enrolled.json().certPem, key })
    expect((await after.send('POST', '/v1/agent/heartbeat', hb)).status).toBe(200)
    after.close()
  })
})

describe('dispatch long-poll', () => {
  test('a parked long-poll gets its dispatch within 100 ms of it being queued; idle ones end in 204', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const a2 = await t.agent('h2')
    const started = performance.now()
    const idle = await a2.send('GET', '/v1/agent/dispatch?wait=1')
    expect(idle.status).toBe(204)
    // At the deadline, less at most a sixteenth of it (spread so a lined-up fleet disperses).
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000 * (15 / 16) - 10)
    expect(performance.now() - started).toBeLessThan(1500)

    const parked = a2.send('GET', '/v1/agent/dispatch?wait=10')
    const a1 = await t.agent('h1')
    await eventually(
      async () => (await t!.operator.send('GET', '/v1/operator/status')).json().openLongPolls === 1
    )
    for (const ev of activationEvents('h1')) {
      expect(
        (await a1.send('POST', '/v1/agent/events', { hostname: 'h1', rolloutId: rid, event: ev }))
          .status
      ).toBe(204)
    }
    const afterConverged = performance.now()
    const d = await parked
    const latency = performance.now() - afterConverged
    expect(d.status).toBe(200)
    expect(d.json()).toMatchObject({
      hostname: 'h2',
      rollout_id: rid,
      target_closure: closureOf('h2'),
      wave_index: 1,
    })
    expect(latency).toBeLessThan(100)
    // Delivered once: the queue is empty now.
    expect((await a2.send('GET', '/v1/agent/dispatch?wait=0')).status).toBe(204)
  })

  test('shutdown ends open long-polls with 204', async () => {
    lab.publish(twoWaves)
    t = await startCp(lab)
    const id = await lab.agentCert('h2')
    // Bun's fetch as the client here: Bun's node:https client reports a 204 followed by the
    // server closing the connection as a socket hang-up.
    const parked = fetch(`https://127.0.0.1:${t.port}/v1/agent/dispatch?wait=30`, {
      headers: { 'x-nixfleet-protocol': '1' },
      tls: { cert: id.cert, key: id.key, ca: lab.ca.certPem, checkServerIdentity: () => undefined },
    } as RequestInit)
    await eventually(
      async () => (await t!.operator.send('GET', '/v1/operator/status')).json().openLongPolls === 1
    )
    const began = performance.now()
    const stopping = t.stop()
    t = undefined
    expect((await parked).status).toBe(204)
    await stopping
    expect(performance.now() - began).toBeLessThan(5000)
  })
})

describe('signed releases', () => {
  test('an older release than the adopted one is refused (anti-rollback)', async () => {
    lab.publish(twoWaves, { gen: 2, signedAt: T0 + 10_000 })
    t = await startCp(lab)
    const adopted = t.cp.state.release!.fleet.sha256
    lab.publish(twoWaves, { gen: 1, signedAt: T0 })
    const r = await t.operator.send('POST', '/v1/operator/refresh')
    expect(r.status).toBe(200)
    expect(t.cp.state.release!.fleet.sha256).toBe(adopted)
    expect(r.json().errors).toContainEqual(
      expect.objectContaining({ key: 'fleet', kind: 'Rollback' })
    )
    const rows = (await t.cp.store.events.ofKind('verify_outcome')).filter(
      (e) => e.payload['ok'] === false
    )
    expect(rows.map((e) => e.payload['kind'])).toContain('Rollback')
    const metrics = (await t.operator.send('GET', '/metrics')).text
    expect(metrics).toContain(
      'nixfleet_cp_verify_failures_total{artifact="fleet",kind="rollback"} 1'
    )
    expect(metrics).toContain('nixfleet_cp_long_polls_paced 0')
    // The high-water mark survives a restart: the older release is still refused.
    await t.stop()
    rmSync(join(lab.dir, 'repo'), { recursive: true })
    lab.publish(twoWaves, { gen: 1, signedAt: T0 })
    t = await startCp(lab)
    expect(t.cp.state.release!.fleet.sha256).toBe(adopted)
    expect(t.cp.state.status.get('fleet')?.lastError?.kind).toBe('Rollback')
  })

  test('a tampered rollout manifest is never adopted', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    const path = join(lab.releaseDir, 'rollouts', `${rolloutIds[0]}.json`)
    writeFileSync(path, readFileSync(path, 'utf8').replace('"waveIndex":1', '"waveIndex":0'))
    t = await startCp(lab)
    expect(t.cp.state.release).toBeDefined()
    expect(t.cp.state.release!.manifests['stable']).toBeUndefined()
    expect(t.cp.state.rollouts.size).toBe(0)
    const ch = await t.operator.send('GET', '/v1/channels/stable')
    expect(ch.json().manifest).toMatchObject({
      adopted: false,
      lastError: { kind: 'BadSignature' },
    })
    expect((await (await t.agent('h1')).send('GET', `/v1/rollouts/${rolloutIds[0]}`)).status).toBe(
      404
    )
  })

  test('a CP whose database was deleted rebuilds from heartbeats without re-dispatching converged hosts', async () => {
    const spec: FleetSpec = {
      hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, h3: { channel: 'stable' } },
      channels: { stable: { waves: [['h1'], ['h2', 'h3']] } },
    }
    const { rolloutIds } = lab.publish(spec)
    const rid = rolloutIds[0]!
    t = await startCp(lab)
    for (const h of ['h1', 'h2']) {
      await (
        await t.agent(h)
      ).send('POST', '/v1/agent/heartbeat', {
        hostname: h,
        current_closure: closureOf(h),
        at: iso(T0 + 70_000),
      })
    }
    await eventually(
      async () => (await t!.cp.store.hosts.get(rid, 'h2'))?.state.phase === 'Converged'
    )
    await t.stop()
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm'])
      rmSync(join(lab.dir, f), { force: true })

    t = await startCp(lab, { cadence: { startupDispatchHoldMs: 60_000 } })
    expect((await t.cp.store.hosts.get(rid, 'h1'))?.state.phase).toBe('Pending')
    expect(t.cp.state.dispatchDepth()).toBe(0)
    for (const h of ['h1', 'h2']) {
      const a = await t.agent(h)
      expect(
        (
          await a.send('POST', '/v1/agent/heartbeat', {
            hostname: h,
            current_closure: closureOf(h),
            at: iso(T0 + 80_000),
          })
        ).status
      ).toBe(200)
      expect((await a.send('GET', '/v1/agent/dispatch?wait=0')).status).toBe(204)
    }
    await eventually(
      async () => (await t!.cp.store.hosts.get(rid, 'h2'))?.state.phase === 'Converged'
    )
    expect((await t.cp.store.hosts.get(rid, 'h1'))?.state.phase).toBe('Converged')
    // h3 runs something else: once heard from, it is dispatched as usual.
    const a3 = await t.agent('h3')
    await a3.send('POST', '/v1/agent/heartbeat', {
      hostname: 'h3',
      current_closure: 'old-h3',
      at: iso(T0 + 80_000),
    })
    const d = await a3.send('GET', '/v1/agent/dispatch?wait=5')
    expect(d.status).toBe(200)
    expect(d.json().rollout_id).toBe(rid)
    const delivered = (await t.cp.store.events.ofKind('effect')).filter(
      (e) => e.payload['effect'] === 'DispatchDelivered'
    )
    expect(delivered.map((e) => e.host)).toEqual(['h3'])
  })
})

describe('request hygiene', () => {
  test('malformed JSON 400, wrong content type 415, oversized 413, bad shape 400 without echo', async () => {
    lab.publish(twoWaves)
    t = await startCp(lab)
    const a = await t.agent('h1')
    const bad = await a.send('POST', '/v1/agent/events', '{"hostname":', {
      'content-type': 'application/json',
    })
    expect(bad.status).toBe(400)
    expect(bad.json()).toEqual({ error: 'malformed JSON body' })
    const type = await a.send('POST', '/v1/agent/events', 'hostname=h1', {
      'content-type': 'application/x-www-form-urlencoded',
    })
    expect(type.status).toBe(415)
    const huge = await a.send(
      'POST',
      '/v1/agent/heartbeat',
      JSON.stringify({ hostname: 'h1', pad: 'x'.repeat(100_000) })
    )
    expect(huge.status).toBe(413)
    // Without a declared length the limit is enforced while the body streams in.
    const chunked = { 'transfer-encoding': 'chunked' }
    const hugeChunked = await a.send(
      'POST',
      '/v1/agent/heartbeat',
      JSON.stringify({ hostname: 'h1', pad: 'x'.repeat(100_000) }),
      chunked
    )
    expect(hugeChunked.status).toBe(413)
    const hb = { hostname: 'h1', current_closure: null, at: new Date(t.clock.now()).toISOString() }
    expect((await a.send('POST', '/v1/agent/heartbeat', hb, chunked)).status).toBe(200)
    const shape = await a.send('POST', '/v1/agent/events', {
      hostname: 'h1',
      rolloutId: 'stable@abc',
      event: { kind: 'DispatchAck', seq: 'SECRET-VALUE' },
    })
    expect(shape.status).toBe(400)
    expect(shape.text).not.toContain('SECRET-VALUE')
    expect(Object.keys(shape.json().fields)).toContain('event.seq')
  })

  test('readiness gate, webhook refresh and the protocol header', async () => {
    writeFileSync(join(lab.dir, 'hook.token'), 'hook-secret\n')
    t = await startCp(lab, {
      config: { webhookTokenFile: join(lab.dir, 'hook.token') },
      cadence: { primeTimeoutMs: 2000 },
    })
    const notReady = await t.operator.send('GET', '/v1/hosts')
    expect(notReady.status).toBe(503)
    expect(notReady.headers['retry-after']).toBe('30')
    expect(notReady.json()).toEqual({
      error: 'control plane not ready',
      reason: 'awaiting first signed artifact',
    })
    expect((await t.anonymous().send('GET', '/healthz')).json()).toMatchObject({
      ok: true,
      ready: false,
    })
    lab.publish(twoWaves)
    expect(
      (
        await t
          .anonymous()
          .send('POST', '/v1/webhook/refresh', undefined, { authorization: 'Bearer wrong' })
      ).status
    ).toBe(401)
    expect(
      (
        await t
          .anonymous()
          .send('POST', '/v1/webhook/refresh', undefined, { authorization: 'Bearer hook-secret' })
      ).status
    ).toBe(202)
    await eventually(() => t!.cp.state.release !== undefined)
    expect((await t.operator.send('GET', '/v1/hosts')).status).toBe(200)
    expect(
      (await t.operator.send('GET', '/v1/hosts', undefined, { 'x-nixfleet-protocol': '2' })).status
    ).toBe(426)
    expect(
      (await t.operator.send('GET', '/v1/hosts', undefined, { 'x-nixfleet-protocol': 'one' }))
        .status
    ).toBe(400)
    expect(existsSync(join(lab.dir, 'state.db'))).toBe(true)
  })
})
