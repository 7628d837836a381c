/**
 * The renewal worker against a stand-in CP over HTTPS that issues real certificates on the CP's
 * clock: a host whose clock runs 40 days fast renews once, says its clock is wrong, and waits a
 * real share of the new certificate's lifetime before the next renewal (not every minute).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { ed25519PublicKey } from '../../crypto/ed25519.ts'
import { ed25519KeyPemFromSeed } from '../../pki/cert.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { createLogger } from '../../runtime/log.ts'
import {
  httpsServer,
  jsonReply,
  removeDir,
  seedOf,
  tempDir,
  testPki,
  type TestPki,
  type TestServer,
} from '../../../tests/support/fixtures.ts'
import { AgentClient } from '../cp-client.ts'
import { AgentIdentity } from '../identity.ts'
import { Metrics } from '../metrics.ts'
import { RenewalWorker } from './renewal.ts'

const DAY = 86_400_000
const SEED = seedOf('web-01')
const LIFETIME_SECS = 30 * 86_400

let pki: TestPki
let dir = ''
let server: TestServer
let issued = 0

beforeAll(async () => {
  dir = tempDir()
  pki = await testPki()
  server = await httpsServer(pki, async () => {
    issued++
    // The CP's own clock (the real one): notBefore now, 30 days of life.
    const { certPem } = await pki.clientFor('web-01', SEED, LIFETIME_SECS)
    return jsonReply({
      certPem,
      notAfter: new Date(Date.now() + LIFETIME_SECS * 1000).toISOString(),
    })
  })
})
afterAll(() => {
  server.stop()
  removeDir(dir)
})

test('a host clock 40 days fast renews once, names the skew, and waits before renewing again', async () => {
  const identity = new AgentIdentity(
    { seed: SEED, publicKey: ed25519PublicKey(SEED), keyPem: ed25519KeyPemFromSeed(SEED) },
    pki.ca.certPem
  )
  identity.setCertificate((await pki.clientFor('web-01', SEED, LIFETIME_SECS)).certPem, 'cert')
  const clock = new FakeClock(Date.now() + 40 * DAY)
  const logs: string[] = []
  const worker = new RenewalWorker({
    client: new AgentClient({
      baseUrls: [server.url],
      identity: () => identity.tls(),
      userAgent: 't',
    }),
    identity,
    machineId: 'web-01',
    certPath: join(dir, 'agent.crt'),
    thresholdFraction: 0.5,
    checkMs: 60_000,
    clock,
    log: createLogger({ component: 't', sink: (l) => void logs.push(l) }),
    metrics: new Metrics(),
  })
  // By the fast clock the certificate has expired: renew.
  expect(worker.due(clock.now())).toBe(true)
  expect(await worker.renewNow()).toBe(true)
  expect(issued).toBe(1)
  // The fresh certificate looks expired too by this clock; that is the clock's fault.
  expect(worker.due(clock.now())).toBe(false)
  const skew = logs.find((l) => l.includes('host clock'))
  expect(skew).toContain('"level":"error"')
  expect(skew).toContain('NTP')
  // A minute later: still not due (before, every check renewed again).
  clock.advance(60_000)
  expect(worker.due(clock.now())).toBe(false)
  // Half the lifetime later (real time, on the monotonic clock): due again.
  clock.advance((LIFETIME_SECS * 1000) / 2)
  expect(worker.due(clock.now())).toBe(true)
})
