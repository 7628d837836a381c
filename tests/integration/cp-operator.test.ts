/**
 * The operator surface of issue 15 against a real control plane (HTTP over mTLS, SQLite, the
 * mutator): a halted-then-resumed rollout that a Reverted host would wedge is retried, skipped
 * or cancelled to an end; the history lists every rollout with its outcome, paged and filtered;
 * a rollout's events page by seq, host and kind; the audit trail lists every action; an
 * emergency denial refuses a host or an operator at the next request until allowed.
 */
import { describe, expect, test } from 'bun:test'
import {
  activationEvents,
  closureOf,
  iso,
  labPerTest,
  revertEvents,
  startCp,
  T0,
  type Client,
  type FleetSpec,
  type TestCp,
} from './cp-support.ts'

const env = labPerTest()

// Wave 0: h1 (fails) and h2; wave 1: h3. Under rollback-and-halt h1's failure halts the rollout.
const wide: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, h3: { channel: 'stable' } },
  channels: { stable: { waves: [['h1', 'h2'], ['h3']], policy: 'rollback-and-halt' } },
}

async function settle(t: TestCp): Promise<void> {
  await t.cp.mutator.request({ type: 'TakeDispatch', host: '\u0000settle' })
}

async function plan(t: TestCp): Promise<void> {
  t.cp.mutator.submit({ type: 'PlanTick' })
  await settle(t)
}

const queued = (t: TestCp, host: string): string[] => [
  ...(t.cp.state.dispatch.get(host)?.keys() ?? []),
]

async function send(agent: Client, host: string, rolloutId: string, ev: Record<string, unknown>) {
  const r = await agent.send('POST', '/v1/agent/events', { hostname: host, rolloutId, event: ev })
  expect(r.status).toBe(204)
}

/** A successful activation of `host` whose event seqs start at `seq`. */
async function converge(t: TestCp, host: string, rolloutId: string, seq = 1): Promise<void> {
  const a = await t.agent(host)
  for (const ev of activationEvents(host))
    await send(a, host, rolloutId, { ...ev, seq: (ev['seq'] as number) + seq - 1 })
}

/** h1 fails its activation and rolls back (seqs 1–3): the rollout is halted, h1 Reverted. */
async function revertH1(t: TestCp, rolloutId: string): Promise<void> {
  const a = await t.agent('h1')
  for (const ev of revertEvents('h1')) await send(a, 'h1', rolloutId, ev)
}

/** The halted rollout resumed: h2 converges and wave 0 then waits on Reverted h1. */
async function haltedThenResumed(): Promise<{ t: TestCp; rid: string }> {
  const rid = env.lab.publish(wide).rolloutIds[0]!
  const t = (env.t = await startCp(env.lab))
  await revertH1(t, rid)
  expect(t.cp.state.rollouts.get(rid)?.record.halt).not.toBeNull()
  const resumed = await t.operator.send('POST', `/v1/operator/rollouts/${rid}/resume`, {
    reason: 'looking at it',
  })
  expect(resumed.status).toBe(200)
  await converge(t, 'h2', rid)
  await plan(t)
  expect(queued(t, 'h3')).toEqual([])
  return { t, rid }
}

const post = (t: TestCp, path: string, body: unknown) => t.operator.send('POST', path, body)

describe('operator actions cannot wedge a rollout', () => {
  test('resume refuses with what to do; retry waits for the quarantine; the retried host completes the rollout', async () => {
    const { t, rid } = await haltedThenResumed()
    const again = await post(t, `/v1/operator/rollouts/${rid}/resume`, { reason: 'again' })
    expect(again.status).toBe(409)
    expect(again.json().error).toContain('h1 Reverted (wave 0)')
    expect(again.json().error).toContain('retry')

    const early = await post(t, '/v1/operator/hosts/h1/retry', { reason: 'fixed nginx' })
    expect(early.status).toBe(409)
    expect(early.json().error).toContain(`closure ${closureOf('h1')} is quarantined`)
    expect((await post(t, '/v1/operator/hosts/h2/retry', { reason: 'x' })).status).toBe(409)
    expect((await post(t, '/v1/operator/hosts/h1/retry', { reason: ' ' })).status).toBe(400)
    expect((await post(t, '/v1/operator/hosts/nope/retry', { reason: 'x' })).status).toBe(404)

    const cleared = await post(t, '/v1/operator/quarantines/clear', {
      channel: 'stable',
      closure: closureOf('h1'),
      reason: 'nginx fixed upstream',
    })
    expect(cleared.status).toBe(200)
    const retried = await post(t, '/v1/operator/hosts/h1/retry', { reason: 'fixed nginx' })
    expect(retried.status).toBe(200)
    expect(retried.json()).toMatchObject({ rolloutId: rid, hostname: 'h1', hostState: 'Pending' })
    await plan(t)
    expect(queued(t, 'h1')).toEqual([rid])
    // The agent's seq goes on from its old record (1–3).
    await converge(t, 'h1', rid, 4)
    await plan(t)
    expect(queued(t, 'h3')).toEqual([rid])
    await converge(t, 'h3', rid)
    await settle(t)
    const detail = (await t.operator.send('GET', `/v1/rollouts/${rid}`)).json()
    expect(detail).toMatchObject({
      id: rid,
      state: 'Terminal',
      outcome: { kind: 'converged' },
      // The halt stays in the history.
      halt: { host: 'h1', active: false, reason: expect.stringContaining('nginx.service') },
      waves: [
        {
          index: 0,
          state: 'done',
          hosts: [{ hostname: 'h1', state: 'Converged' }, { hostname: 'h2' }],
        },
        { index: 1, state: 'done', hosts: [{ hostname: 'h3', state: 'Converged' }] },
      ],
      gates: [],
    })
  })

  test('a skipped host counts as done and is never dispatched again', async () => {
    const { t, rid } = await haltedThenResumed()
    const skipped = await post(t, '/v1/operator/hosts/h1/skip', { reason: 'decommissioning' })
    expect(skipped.status).toBe(200)
    expect((await post(t, '/v1/operator/hosts/h1/retry', { reason: 'x' })).status).toBe(409)
    await plan(t)
    expect(queued(t, 'h1')).toEqual([])
    expect(queued(t, 'h3')).toEqual([rid])
    await converge(t, 'h3', rid)
    await settle(t)
    expect(t.cp.state.rollouts.get(rid)?.record.phase).toBe('Terminal')
    const hosts = (await t.operator.send('GET', `/v1/rollouts/${rid}/hosts`)).json()
    expect(hosts.hosts[0]).toMatchObject({
      host: 'h1',
      skipped: { by: 'operator-alice', reason: 'decommissioning' },
    })
    // h3 was dispatched; nothing was dispatched again to h1 after it was skipped.
    expect(hosts.hosts[2]).toMatchObject({ host: 'h3', dispatchedAt: expect.any(String) })
  })

  test('cancel closes any open rollout as cancelled, with who and why', async () => {
    const { t, rid } = await haltedThenResumed()
    const c = await post(t, `/v1/operator/rollouts/${rid}/cancel`, { reason: 'bad release' })
    expect(c.status).toBe(200)
    expect(c.json().state).toBe('Cancelled')
    await plan(t)
    expect(queued(t, 'h3')).toEqual([])
    expect((await post(t, `/v1/operator/rollouts/${rid}/cancel`, { reason: 'x' })).status).toBe(409)
    const list = (await t.operator.send('GET', '/v1/rollouts?all=1')).json()
    expect(list.rollouts).toEqual([
      expect.objectContaining({
        id: rid,
        state: 'Cancelled',
        closedAt: expect.any(String),
        outcome: expect.objectContaining({
          kind: 'cancelled',
          by: 'operator-alice',
          reason: 'bad release',
        }),
      }),
    ])
    expect((await t.operator.send('GET', '/v1/rollouts')).json().rollouts).toEqual([])
    // Wave 0 stopped where the cancel found it (h1 Reverted); wave 1 never started.
    const detail = (await t.operator.send('GET', `/v1/rollouts/${rid}`)).json()
    expect(detail.waves.map((w: { state: string }) => w.state)).toEqual(['stopped', 'not-started'])
  })
})

describe('history, events and audit', () => {
  test('rollouts of every state, newest first, paged and filtered', async () => {
    const spec: FleetSpec = { hosts: { h1: { channel: 'stable' } }, channels: { stable: {} } }
    const first = env.lab.publish(spec, { gen: 1 }).rolloutIds[0]!
    const t = (env.t = await startCp(env.lab))
    const second = env.lab.publish(spec, { gen: 2, signedAt: T0 + 1000 }).rolloutIds[0]!
    t.clock.advance(1000)
    await post(t, '/v1/operator/refresh', undefined)
    const page1 = (await t.operator.send('GET', '/v1/rollouts?all=1&limit=1')).json()
    expect(page1.rollouts.map((r: { id: string }) => r.id)).toEqual([second])
    expect(page1.next).toEqual(expect.any(String))
    const page2 = (
      await t.operator.send(
        'GET',
        `/v1/rollouts?all=1&limit=1&cursor=${encodeURIComponent(page1.next)}`
      )
    ).json()
    expect(page2.rollouts).toEqual([
      expect.objectContaining({
        id: first,
        state: 'Superseded',
        outcome: expect.objectContaining({ kind: 'superseded', by: second }),
        hostStates: { h1: 'Pending' },
      }),
    ])
    expect(page2.next).toBeNull()
    const superseded = (await t.operator.send('GET', '/v1/rollouts?state=superseded')).json()
    expect(superseded.rollouts.map((r: { id: string }) => r.id)).toEqual([first])
    expect(
      (await t.operator.send('GET', '/v1/rollouts?all=1&channel=edge')).json().rollouts
    ).toEqual([])
    expect((await t.operator.send('GET', '/v1/rollouts?state=bogus')).status).toBe(400)
    expect((await t.operator.send('GET', '/v1/rollouts?all=1&cursor=zz')).status).toBe(400)
    expect((await t.operator.send('GET', '/v1/rollouts?all=1&limit=x')).status).toBe(400)
  })

  test('events page by seq, filter by host and kind, newest first on request', async () => {
    const rid = env.lab.publish(wide).rolloutIds[0]!
    const t = (env.t = await startCp(env.lab))
    await revertH1(t, rid)
    const all = (await t.operator.send('GET', `/v1/rollouts/${rid}/events?limit=10000`)).json()
    const seqs: number[] = all.events.map((e: { seq: number }) => e.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    const p1 = (await t.operator.send('GET', `/v1/rollouts/${rid}/events?limit=3`)).json()
    expect(p1.events.map((e: { seq: number }) => e.seq)).toEqual(seqs.slice(0, 3))
    const p2 = (
      await t.operator.send('GET', `/v1/rollouts/${rid}/events?limit=3&after=${p1.next}`)
    ).json()
    expect(p2.events.map((e: { seq: number }) => e.seq)).toEqual(seqs.slice(3, 6))
    const last = (
      await t.operator.send('GET', `/v1/rollouts/${rid}/events?order=desc&limit=1`)
    ).json()
    expect(last.events.map((e: { seq: number }) => e.seq)).toEqual([seqs.at(-1)])
    const h1 = (
      await t.operator.send('GET', `/v1/rollouts/${rid}/events?host=h1&kind=agent_event`)
    ).json()
    expect(h1.events.map((e: { payload: { kind: string } }) => e.payload.kind)).toEqual([
      'DispatchAck',
      'ActivationFailed',
      'RollbackComplete',
    ])
    expect(h1.next).toBeNull()
    expect(h1.events[0]).toMatchObject({ host: 'h1', kind: 'agent_event', at: expect.any(String) })
    expect((await t.operator.send('GET', `/v1/rollouts/${rid}/events?kind=nope`)).status).toBe(400)
    expect((await t.operator.send('GET', `/v1/rollouts/${rid}/events?order=up`)).status).toBe(400)
    expect((await t.operator.send('GET', `/v1/rollouts/${rid}/events?after=-1`)).status).toBe(400)
  })

  test('the audit trail lists every action with who, what, target and why; paged', async () => {
    const rid = env.lab.publish(wide).rolloutIds[0]!
    const t = (env.t = await startCp(env.lab))
    await revertH1(t, rid)
    await post(t, `/v1/operator/rollouts/${rid}/resume`, { reason: 'r1' })
    await post(t, '/v1/operator/hosts/h1/skip', { reason: 'r2' })
    await post(t, '/v1/operator/hosts/h2/deny', { reason: 'r3' })
    // A refusal is not audited.
    expect((await post(t, '/v1/operator/hosts/h1/skip', { reason: 'r4' })).status).toBe(409)
    const all = (await t.operator.send('GET', '/v1/operator/audit')).json()
    expect(
      all.actions.map((a: Record<string, string>) => [a.operator, a.action, a.target, a.reason])
    ).toEqual([
      ['operator-alice', 'resume', rid, 'r1'],
      ['operator-alice', 'skip', `${rid}/h1`, 'r2'],
      ['operator-alice', 'deny', 'host:h2', 'r3'],
    ])
    expect(all.next).toBeNull()
    const p1 = (await t.operator.send('GET', '/v1/operator/audit?limit=2')).json()
    expect(p1.actions).toHaveLength(2)
    const p2 = (await t.operator.send('GET', `/v1/operator/audit?limit=2&after=${p1.next}`)).json()
    expect(p2.actions.map((a: { action: string }) => a.action)).toEqual(['deny'])
  })
})

describe('emergency denial', () => {
  test('a denied host is refused at its next request until allowed; shown and listed', async () => {
    env.lab.publish(wide)
    const t = (env.t = await startCp(env.lab))
    const a = await t.agent('h2')
    expect((await a.send('GET', '/v1/agent/dispatch?wait=0')).status).not.toBe(401)
    expect((await post(t, '/v1/operator/hosts/h2/deny', {})).status).toBe(400)
    // A typo in an emergency is refused, not recorded as a denial of nobody.
    const typo = await post(t, '/v1/operator/hosts/h22/deny', { reason: 'stolen laptop' })
    expect(typo.status).toBe(404)
    expect(typo.json().error).toContain('unknown host h22 (did you mean h2?)')
    expect((await t.operator.send('GET', '/v1/operator/denials')).json().denials).toEqual([])
    const d = await post(t, '/v1/operator/hosts/h2/deny', { reason: 'stolen laptop' })
    expect(d.status).toBe(200)
    const refused = await a.send('GET', '/v1/agent/dispatch?wait=0')
    expect(refused.status).toBe(401)
    expect(refused.json().error).toContain('stolen laptop')
    expect((await t.operator.send('GET', '/v1/operator/denials')).json().denials).toEqual([
      {
        kind: 'host',
        name: 'h2',
        reason: 'stolen laptop',
        by: 'operator-alice',
        at: expect.any(String),
      },
    ])
    const hosts = (await t.operator.send('GET', '/v1/hosts')).json().hosts
    expect(hosts.find((h: { hostname: string }) => h.hostname === 'h2').denied).toMatchObject({
      reason: 'stolen laptop',
    })
    // Persisted: a restarted control plane still refuses it.
    await t.stop()
    const t2 = (env.t = await startCp(env.lab))
    const a2 = await t2.agent('h2')
    expect((await a2.send('GET', '/v1/agent/dispatch?wait=0')).status).toBe(401)
    expect(
      (await t2.operator.send('POST', '/v1/operator/hosts/h2/allow', { reason: 'found it' })).status
    ).toBe(200)
    expect((await a2.send('GET', '/v1/agent/dispatch?wait=0')).status).not.toBe(401)
    expect(
      (await t2.operator.send('POST', '/v1/operator/hosts/h2/allow', { reason: 'x' })).status
    ).toBe(404)
  })

  test('an operator certificate can be denied by CN, never by itself', async () => {
    env.lab.publish(wide)
    const t = (env.t = await startCp(env.lab))
    const self = await post(t, '/v1/operator/operators/operator-alice/deny', { reason: 'x' })
    expect(self.status).toBe(409)
    expect((await post(t, '/v1/operator/operators/agent-h1/deny', { reason: 'x' })).status).toBe(
      400
    )
    const d = await post(t, '/v1/operator/operators/operator-bob/deny', { reason: 'left the team' })
    expect(d.status).toBe(200)
    expect(t.cp.state.denial('operator', 'operator-bob')).toMatchObject({ reason: 'left the team' })
    expect((await t.operator.send('GET', '/v1/operator/denials')).json().denials).toHaveLength(1)
    expect(
      (await post(t, '/v1/operator/operators/operator-bob/allow', { reason: 'back' })).status
    ).toBe(200)
    expect((await t.operator.send('GET', '/v1/operator/denials')).json().denials).toEqual([])
  })
})

describe('denials and the signed revocation list', () => {
  test('a signed revocation of a denied host supersedes the denial', async () => {
    env.lab.publish(wide)
    const t = (env.t = await startCp(env.lab))
    expect((await post(t, '/v1/operator/hosts/h2/deny', { reason: 'stolen' })).status).toBe(200)
    expect((await post(t, '/v1/operator/hosts/h3/deny', { reason: 'odd traffic' })).status).toBe(
      200
    )
    env.lab.publish(wide, {
      gen: 2,
      signedAt: T0 + 1000,
      revocations: {
        revocations: [
          { hostname: 'h2', notBefore: iso(T0 + 500), reason: 'stolen', revokedBy: 'ci' },
        ],
      },
    })
    t.clock.advance(1000)
    await post(t, '/v1/operator/refresh', undefined)
    const denials = (await t.operator.send('GET', '/v1/operator/denials')).json().denials
    expect(denials.map((d: { name: string }) => d.name)).toEqual(['h3'])
    const rows = (await t.cp.store.events.ofKind('effect')).map((e) => e.payload)
    expect(rows).toContainEqual({ effect: 'DenialSuperseded', host: 'h2' })
  })
})
