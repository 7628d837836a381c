/**
 * The dispatch poller against a CP whose certificate names another host: a configuration error,
 * logged once as an error that says what to fix.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { issueServerCert } from '../../pki/ca.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { createLogger, parseLogLine } from '../../runtime/log.ts'
import { httpsServer, testPki, type TestServer } from '../../../tests/support/fixtures.ts'
import { AgentClient } from '../cp-client.ts'
import { Metrics } from '../metrics.ts'
import { DispatchPoller } from './dispatch-poll.ts'

let server: TestServer
let ca = ''
let polls = 0

beforeAll(async () => {
  const pki = await testPki()
  ca = pki.ca.certPem
  const cert = await issueServerCert({
    ca: pki.ca,
    names: ['cp.example.org'],
    now: Date.now(),
    validityDays: 30,
  })
  server = await httpsServer({ ...pki, server: cert }, () => {
    polls++
    return { status: 204 }
  })
})
afterAll(() => server.stop())

test('a TLS name mismatch is one error line naming the host, the certificate names and the fix', async () => {
  const logs: string[] = []
  const stop = new AbortController()
  const poller = new DispatchPoller({
    client: new AgentClient({ baseUrls: [server.url], identity: () => ({ ca }), userAgent: 't' }),
    manifests: { acceptDispatch: () => Promise.reject(new Error('not reached')) },
    waitSecs: 1,
    backoffMaxMs: 3_600_000,
    currentClosure: () => undefined,
    submit: () => Promise.resolve(true),
    clock: new FakeClock(0),
    log: createLogger({
      component: 't',
      sink: (l) => {
        logs.push(l)
        stop.abort()
      },
    }),
    metrics: new Metrics(),
  })
  await poller.run(stop.signal)
  expect(logs).toHaveLength(1)
  const line = parseLogLine(logs[0]!)!.record
  expect(line).toMatchObject({ level: 'error', msg: 'dispatch poll failed' })
  expect(line.reason).toContain('does not name 127.0.0.1 (it names DNS:cp.example.org)')
  expect(polls).toBe(0) // no request got through the handshake
})
