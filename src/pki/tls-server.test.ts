/**
 * Real mTLS on 127.0.0.1 (port 0), no mocks: the fleet CA, a server certificate, agents with
 * ed25519 keys certified from createCsr CSRs, an operator, and a stranger from another CA.
 */
import { afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { request } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { ed25519RandomSeed } from '../crypto/ed25519.ts'
import { createCa, createOperatorCert, issueClientCert, issueServerCert } from './ca.ts'
import { ed25519KeyPemFromSeed, parseCertificate, type CaPems } from './cert.ts'
import { createCsr, parseCsr } from './csr.ts'
import { agentCommonName } from './identity.ts'
import { createMtlsServer, peerIdentity, type MtlsServer } from './tls-server.ts'

type ClientTls = { ca: string; cert?: string; key?: string }

let ca: CaPems
let server: { certPem: string; keyPem: string }
let agent: { cert: string; key: string }
let stranger: { cert: string; key: string }
let operator: { cert: string; key: string }
const running: MtlsServer[] = []

/** An agent identity the way the agent gets one: SSH seed → CSR → CA-issued certificate. */
async function enrollAgent(issuer: CaPems, host: string) {
  const seed = ed25519RandomSeed()
  const csr = await parseCsr(await createCsr({ seed, commonName: host }))
  if (!csr.ok) throw new Error(csr.error)
  const cn = agentCommonName(host, 'fleet.test')
  const cert = await issueClientCert({
    ca: issuer,
    subjectPublicKey: csr.spki,
    commonName: cn,
    sanDns: cn,
    now: Date.now(),
    validitySecs: 3600,
    clientAuth: true,
  })
  return { cert, key: ed25519KeyPemFromSeed(seed) }
}

beforeAll(async () => {
  const now = Date.now()
  ca = await createCa({ commonName: 'NixFleet test CA', validityDays: 30, now })
  server = await issueServerCert({ ca, names: ['localhost', '127.0.0.1'], now, validityDays: 30 })
  agent = await enrollAgent(ca, 'web-1')
  const otherCa = await createCa({ commonName: 'Some other CA', validityDays: 30, now })
  stranger = await enrollAgent(otherCa, 'web-1')
  const op = await createOperatorCert({ ca, name: 'alice', now })
  operator = { cert: op.certPem, key: op.keyPem }
})

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()))
})

/** Starts a server whose handler reports the peer identity, unless `route` takes the request. */
async function start(
  opts: {
    idleTimeoutMs?: number
    closeGraceMs?: number
    route?: (req: IncomingMessage, res: ServerResponse) => boolean
  } = {}
) {
  const mtls = createMtlsServer({
    certPem: server.certPem,
    keyPem: server.keyPem,
    caPem: ca.certPem,
    ...(opts.closeGraceMs !== undefined ? { closeGraceMs: opts.closeGraceMs } : {}),
    ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    handler: (req, res) => {
      if (opts.route?.(req, res)) return
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ identity: peerIdentity(req) ?? null }))
    },
  })
  running.push(mtls)
  const { port } = await mtls.listen('127.0.0.1', 0)
  return { mtls, url: `https://127.0.0.1:${port}` }
}

function tlsOf(client?: { cert: string; key: string }): ClientTls {
  return client ? { ca: ca.certPem, cert: client.cert, key: client.key } : { ca: ca.certPem }
}

async function identityVia(url: string, client?: { cert: string; key: string }) {
  const res = await fetch(`${url}/whoami`, { tls: tlsOf(client) })
  expect(res.status).toBe(200)
  return ((await res.json()) as { identity: unknown }).identity
}

describe('peer identity over real mTLS', () => {
  test('Bun fetch with an ed25519 agent cert: the server sees the CN, verified', async () => {
    const { url } = await start()
    const issued = parseCertificate(agent.cert)
    if (!issued.ok) throw new Error(issued.error)
    expect(await identityVia(url, agent)).toEqual({
      cn: 'agent-web-1.fleet.test',
      notBeforeMs: issued.notBeforeMs,
      notAfterMs: issued.notAfterMs,
      serialHex: issued.serialHex,
      authorized: true,
    })
  })

  test('node:https with the same ed25519 key and cert works too', async () => {
    const { url } = await start()
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${url}/whoami`, { ...tlsOf(agent), servername: 'localhost' }, (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => (text += chunk.toString()))
        res.on('end', () => resolve(text))
      })
      req.on('error', reject)
      req.end()
    })
    expect(JSON.parse(body).identity.cn).toBe('agent-web-1.fleet.test')
  })

  test('an operator (P-256) certificate is seen as operator-<name>', async () => {
    const { url } = await start()
    expect(await identityVia(url, operator)).toMatchObject({ cn: 'operator-alice' })
  })

  test('a certificate from another CA is no identity; the request is still served', async () => {
    const { url } = await start()
    expect(await identityVia(url, stranger)).toBeNull()
  })

  test('no client certificate: no identity, request served (enrollment path)', async () => {
    const { url } = await start()
    expect(await identityVia(url)).toBeNull()
  })

  test('the client refuses a server whose certificate is not from the fleet CA', async () => {
    const { url } = await start()
    const otherCa = await createCa({ commonName: 'x', validityDays: 1, now: Date.now() })
    await expect(fetch(`${url}/whoami`, { tls: { ca: otherCa.certPem } })).rejects.toThrow()
  })

  test('one pooled client may switch identities between requests', async () => {
    const { url } = await start()
    expect(await identityVia(url, agent)).toMatchObject({ cn: 'agent-web-1.fleet.test' })
    expect(await identityVia(url, operator)).toMatchObject({ cn: 'operator-alice' })
    expect(await identityVia(url)).toBeNull()
  })
})

describe('close()', () => {
  test('ends an in-flight request that never answers, promptly after the grace', async () => {
    const entered = Promise.withResolvers<void>()
    const { mtls, url } = await start({
      closeGraceMs: 100,
      route: (req) => {
        if (req.url !== '/slow') return false
        entered.resolve()
        return true // never answers
      },
    })
    const outcome = fetch(`${url}/slow`, { tls: tlsOf(agent) }).then(
      (res) => `status ${res.status}`,
      () => 'connection closed'
    )
    await entered.promise
    const started = performance.now()
    await mtls.close()
    expect(await outcome).toBe('connection closed')
    expect(performance.now() - started).toBeLessThan(2_000)
  })

  test('lets a long-poll answer cleanly when `closing` aborts', async () => {
    const entered = Promise.withResolvers<void>()
    let mtls: MtlsServer | undefined
    const started = await start({
      closeGraceMs: 30_000,
      route: (req, res) => {
        if (req.url !== '/poll') return false
        entered.resolve()
        const signal = mtls!.closing
        signal.addEventListener('abort', () => res.writeHead(204).end(), { once: true })
        return true
      },
    })
    mtls = started.mtls
    const res = fetch(`${started.url}/poll`, { tls: tlsOf(agent) })
    await entered.promise
    const t0 = performance.now()
    await mtls.close()
    expect((await res).status).toBe(204)
    // Far below the 30 s grace: the busy socket closed as soon as its response finished.
    expect(performance.now() - t0).toBeLessThan(2_000)
  })

  test('drops idle keep-alive connections at once and refuses new ones', async () => {
    const { mtls, url } = await start({ closeGraceMs: 30_000 })
    expect(await identityVia(url, agent)).toMatchObject({ authorized: true })
    const t0 = performance.now()
    await mtls.close()
    expect(performance.now() - t0).toBeLessThan(2_000)
    await expect(fetch(`${url}/whoami`, { tls: tlsOf(agent) })).rejects.toThrow()
    // Idempotent.
    await mtls.close()
  })
})

describe('connection hygiene', () => {
  test('reaps a kept-alive connection after the idle timeout; the client reconnects', async () => {
    const { mtls, url } = await start({ idleTimeoutMs: 100 })
    const socketClosed = Promise.withResolvers<void>()
    mtls.httpServer.once('connection', (socket: Socket) => {
      socket.once('close', () => socketClosed.resolve())
    })
    expect(await identityVia(url, agent)).toMatchObject({ cn: 'agent-web-1.fleet.test' })
    expect(mtls.connectionCount()).toBe(1)
    await socketClosed.promise
    expect(mtls.connectionCount()).toBe(0)
    // Bun's fetch pool notices the closed socket and dials again.
    expect(await identityVia(url, agent)).toMatchObject({ cn: 'agent-web-1.fleet.test' })
  })

  test('a throwing or rejecting handler costs its request a 500, not the server', async () => {
    const { url } = await start({
      route: (req) => {
        if (req.url === '/throw') throw new Error('handler bug')
        return false
      },
    })
    const res = await fetch(`${url}/throw`, { tls: tlsOf(agent) })
    expect(res.status).toBe(500)
    expect(await identityVia(url, agent)).toMatchObject({ cn: 'agent-web-1.fleet.test' })

    const rejecting = createMtlsServer({
      certPem: server.certPem,
      keyPem: server.keyPem,
      caPem: ca.certPem,
      handler: async () => {
        throw new Error('async handler bug')
      },
    })
    running.push(rejecting)
    const { port } = await rejecting.listen('127.0.0.1', 0)
    const res2 = await fetch(`https://127.0.0.1:${port}/`, { tls: tlsOf(agent) })
    expect(res2.status).toBe(500)
  })
})

test('peerIdentity is undefined for a request without a TLS socket', () => {
  expect(peerIdentity({ socket: {} })).toBeUndefined()
  expect(peerIdentity({ socket: null })).toBeUndefined()
})
