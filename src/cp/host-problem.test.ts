import { expect, test } from 'bun:test'
import { hostProblemKind } from './host-problem.ts'
import { CpState } from './state.ts'

const MIN = 60_000

test('a host is offline after three missed heartbeats, has its own problem, or is revoked until it re-enrols', () => {
  const state = new CpState()
  const beat = (host: string, receivedAt: number, problem?: boolean) =>
    state.heartbeats.set(host, {
      at: receivedAt,
      receivedAt,
      closure: null,
      seqs: {},
      ...(problem
        ? {
            problem: {
              worker: 'drainer',
              code: 'ENOSPC',
              message: 'disk full',
              since: '2026-01-01T00:00:00Z',
            },
          }
        : {}),
    })
  // Not heard from since the CP started: not judged.
  expect(hostProblemKind(state, 'h1', 10 * MIN)).toBeUndefined()
  beat('h1', 10 * MIN)
  expect(hostProblemKind(state, 'h1', 13 * MIN)).toBeUndefined()
  expect(hostProblemKind(state, 'h1', 13 * MIN + 1)).toBe('offline')
  beat('h1', 14 * MIN, true)
  expect(hostProblemKind(state, 'h1', 14 * MIN)).toBe('agent-io-error')
  state.revocations.set('h1', {
    hostname: 'h1',
    notBefore: 15 * MIN,
    reason: null,
    revokedBy: null,
    revokedAt: 15 * MIN,
  })
  expect(hostProblemKind(state, 'h1', 15 * MIN)).toBe('cert-revoked')
  // A heartbeat after the revocation was adopted came with a new certificate.
  beat('h1', 16 * MIN)
  expect(hostProblemKind(state, 'h1', 16 * MIN)).toBeUndefined()
  // A revoked host not heard from since is revoked, whatever the CP's uptime.
  state.revocations.set('h2', { ...state.revocations.get('h1')!, hostname: 'h2' })
  expect(hostProblemKind(state, 'h2', 16 * MIN)).toBe('cert-revoked')
})
