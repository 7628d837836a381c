/**
 * The control plane's runtime scenarios (spec runtime.md §8.5, `runtime_smoke.rs` and
 * `rollout_rederivability.rs`), run in-process against a real SQLite file and real mTLS on
 * 127.0.0.1: agents are HTTPS clients with their own certificates, time is a FakeClock.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import {
  activationEvents,
  closureOf,
  Lab,
  startCp,
  T0,
  type Client,
  type FleetSpec,
  type TestCp,
} from './cp-support.ts'
import { rederiveRollouts } from '../../src/core/index.ts'
import { rolloutEventOf } from '../../src/cp/mutator/rollout-steps.ts'
import { REPLAY_FROM_HEADER } from '../../src/proto/agent.ts'
import { RETIRED_KEPT_MS } from '../../src/cp/mutator/prune.ts'
import { Database } from 'bun:sqlite'
import { join } from 'node:path'

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

/** Waits until every input queued so far has been applied. */
async function settle(cp: TestCp): Promise<void> {
  await cp.cp.mutator.request({ type: 'TakeDispatch', host: '\u0000settle' })
}

async function plan(cp: TestCp): Promise<void> {
  cp.cp.mutator.submit({ type: 'PlanTick' })
  await settle(cp)
}

function queued(cp: TestCp, host: string): string[] {
  return [...(cp.cp.state.dispatch.get(host)?.keys() ?? [])]
}

async function phase(cp: TestCp, rid: string, host: string): Promise<string | undefined> {
  return (await cp.cp.store.hosts.get(rid, host))?.state.phase
}

async function event(agent: Client, host: string, rolloutId: string, ev: Record<string, unknown>) {
  return agent.send('POST', '/v1/agent/events', { hostname: host, rolloutId, event: ev })
}

async function heartbeat(agent: Client, host: string, body: Record<string, unknown>) {
  return agent.send('POST', '/v1/agent/heartbeat', {
    hostname: host,
    at: iso(T0 + 90_000),
    ...body,
  })
}

const twoWaves: FleetSpec = {
  hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' } },
  channels: { stable: { waves: [['h1'], ['h2']] } },
}

describe('the mutator loop', () => {
  test('inputs queued together commit together, and each reply comes only after the commit', async () => {
    lab.publish(twoWaves)
    t = await startCp(lab)
    // A second connection sees committed rows only (WAL): what a reply promises must be there.
    const reader = new Database(join(lab.dir, 'state.db'), { readonly: true })
    const committed = (nonce: string) =>
      reader.query('SELECT 1 FROM token_replay WHERE nonce = ?').get(nonce) !== null
    const seen: boolean[] = []
    const done = Promise.all(
      ['n1', 'n2', 'n3', 'n4', 'n5'].map(
        (nonce) =>
          new Promise<void>((resolve) => {
            const queued = t!.cp.mutator.submit(
              { type: 'UseNonce', nonce, hostname: 'h1', expiresAt: T0 },
              // Called synchronously by the mutator: at that moment every nonce of the batch is visible.
              (fresh) => {
                seen.push(fresh && ['n1', 'n2', 'n3', 'n4', 'n5'].every(committed))
                resolve()
              }
            )
            expect(queued).toBe(true)
          })
      )
    )
    await done
    reader.close()
    expect(seen).toEqual([true, true, true, true, true])
  })

  test('a failed write is fatal and ends every wait on the mutator', async () => {
    lab.publish(twoWaves)
    t = await startCp(lab)
    // A real SQLite error on the next write, as a full or failing disk would raise it.
    const other = new Database(join(lab.dir, 'state.db'))
    other.run(
      "CREATE TRIGGER fail_writes BEFORE INSERT ON token_replay BEGIN SELECT RAISE(FAIL, 'disk I/O error'); END"
    )
    other.close()
    const waits = ['n1', 'n2', 'n3'].map((nonce) =>
      t!.cp.mutator.request({ type: 'UseNonce', nonce, hostname: 'h1', expiresAt: T0 })
    )
    const outcomes = await Promise.allSettled(waits)
    expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status))).toEqual([
      'MutatorStopped: the control plane is stopping',
      'MutatorStopped: the control plane is stopping',
      'MutatorStopped: the control plane is stopping',
    ])
    expect(String(await t.cp.fatal)).toContain('disk I/O error')
    expect(
      t.cp.mutator.request({ type: 'UseNonce', nonce: 'n4', hostname: 'h1', expiresAt: T0 })
    ).toBeUndefined()
    await t.stop()
    t = undefined
  })

  test('a commit that does not become durable is fatal too, and nothing of it is answered', async () => {
    lab.publish(twoWaves)
    t = await startCp(lab)
    // A backend that buffers writes reports a failed commit here, after the transaction ran.
    t.cp.store.durable = () => Promise.reject(new Error('connection lost during COMMIT'))
    const woken: string[] = []
    t.cp.mutator.onCommit(() => woken.push('commit'))
    const waits = ['n1', 'n2'].map((nonce) =>
      t!.cp.mutator.request({ type: 'UseNonce', nonce, hostname: 'h1', expiresAt: T0 })
    )
    const outcomes = await Promise.allSettled(waits)
    expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status))).toEqual([
      'MutatorStopped: the control plane is stopping',
      'MutatorStopped: the control plane is stopping',
    ])
    expect(String(await t.cp.fatal)).toContain('connection lost during COMMIT')
    expect(woken).toEqual([])
    await t.stop()
    t = undefined
  })
})

describe('runtime scenarios (spec runtime.md §8.5)', () => {
  test('a manifest set opens the rollout and creates Pending records', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    expect(t.cp.state.rollouts.get(rid)?.record.phase).toBe('Active')
    expect(await phase(t, rid, 'h1')).toBe('Pending')
    expect(await phase(t, rid, 'h2')).toBe('Pending')
    const kinds = (await t.cp.store.events.ofKind('rollout_event')).map((e) => e.payload['kind'])
    expect(kinds).toEqual(['RolloutOpened', 'HostJoined'])
    expect(
      (await t.cp.store.events.ofKind('plan_action')).map((e) => e.payload['action'])
    ).toContain('OpenRollout')
  })

  test('a host event drives the transition and writes agent_event and effect rows', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const a = await t.agent('h1')
    const r = await event(a, 'h1', rid, {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'old-h1',
      receivedAt: iso(T0 + 61_000),
    })
    expect(r.status).toBe(204)
    expect(await phase(t, rid, 'h1')).toBe('Activating')
    const agentRows = await t.cp.store.events.ofKind('agent_event')
    expect(agentRows.map((e) => [e.host, e.payload['kind'], e.payload['seq']])).toEqual([
      ['h1', 'DispatchAck', 1],
    ])
    const effects = (await t.cp.store.events.ofKind('effect')).filter(
      (e) => e.payload['effect'] === 'RecordTransition'
    )
    expect(effects.map((e) => [e.payload['from'], e.payload['to']])).toEqual([
      ['Pending', 'Activating'],
    ])
    // The same seq again is an idempotent duplicate.
    expect(
      (
        await event(a, 'h1', rid, {
          kind: 'DispatchAck',
          seq: 1,
          currentClosureAtDispatch: 'old-h1',
          receivedAt: iso(T0 + 61_000),
        })
      ).status
    ).toBe(204)
    expect(await t.cp.store.events.ofKind('agent_event')).toHaveLength(1)
  })

  test('an illegal event is refused with 409 and the reason', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const a = await t.agent('h1')
    const r = await event(a, 'h1', rolloutIds[0]!, {
      kind: 'Converged',
      seq: 1,
      convergedAt: iso(T0 + 61_000),
      currentClosure: closureOf('h1'),
    })
    expect(r.status).toBe(409)
    expect(r.json().error).toBe(
      `RemoteConverged is not legal for h1 in ${rolloutIds[0]} in state Pending`
    )
    const unknown = await event(a, 'h1', 'stable@ffff', {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'x',
      receivedAt: iso(T0),
    })
    expect(unknown.status).toBe(409)
    expect(unknown.json().error).toContain('no record of h1')
  })

  test('records of a closed rollout answer late events and heartbeats from memory, after a restart too', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const cancel = { reason: 'bad release' }
    expect(
      (await t.operator.send('POST', `/v1/operator/rollouts/${rid}/cancel`, cancel)).status
    ).toBe(200)
    // Both Pending records left the live set; the mutator keeps them retired, not only in the DB.
    expect(t.cp.state.host(rid, 'h1')).toBeUndefined()
    expect(t.cp.state.retired[rid]?.['h2']?.state.phase).toBe('Pending')
    const lateAnswers = async (cp: TestCp) => {
      const a2 = await cp.agent('h2')
      const refused = await event(a2, 'h2', rid, {
        kind: 'Converged',
        seq: 1,
        convergedAt: iso(T0 + 61_000),
        currentClosure: closureOf('h2'),
      })
      const hb = await heartbeat(a2, 'h2', {
        rollout_id: rid,
        current_closure: closureOf('h2'),
        last_event_seq_by_rollout: { [rid]: 3 },
      })
      return {
        status: refused.status,
        error: refused.json().error,
        replay: hb.headers[REPLAY_FROM_HEADER.toLowerCase()],
      }
    }
    // Refused by core for the record's state (not "no record"), and the agent ahead is told to replay.
    const expected = {
      status: 409,
      error: `RemoteConverged is not legal for h2 in ${rid} in state Pending`,
      replay: '0',
    }
    expect(await lateAnswers(t)).toEqual(expected)
    // A dispatch h1 took before the cancel is still acknowledged: the record steps and is live again.
    const a1 = await t.agent('h1')
    const ack = {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'old-h1',
      receivedAt: iso(T0 + 61_000),
    }
    expect((await event(a1, 'h1', rid, ack)).status).toBe(204)
    expect(t.cp.state.host(rid, 'h1')?.phase).toBe('Activating')
    expect(t.cp.state.retired[rid]?.['h1']).toBeUndefined()
    await t.stop()
    t = await startCp(lab)
    expect(t.cp.state.retired[rid]?.['h2']?.state.phase).toBe('Pending')
    expect(t.cp.state.host(rid, 'h1')?.phase).toBe('Activating')
    expect(await lateAnswers(t)).toEqual(expected)
    // A week after the cancel the retention pass forgets the settled records in memory (the
    // rollout and its rows stay until the rollout itself is pruned): late events find no record.
    t.clock.advance(RETIRED_KEPT_MS - 1000)
    await t.cp.mutator.request({ type: 'Prune' })
    expect(t.cp.state.retired[rid]?.['h2']?.state.phase).toBe('Pending')
    t.clock.advance(2000)
    await t.cp.mutator.request({ type: 'Prune' })
    expect(t.cp.state.retired[rid]).toBeUndefined()
    expect(t.cp.state.rollouts.get(rid)?.record.phase).toBe('Cancelled')
    expect((await t.cp.store.hosts.get(rid, 'h2'))?.state.phase).toBe('Pending')
    const late = await event(await t.agent('h2'), 'h2', rid, {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'old-h2',
      receivedAt: iso(T0 + 61_000),
    })
    expect(late.status).toBe(409)
    expect(late.json().error).toContain('no record of h2')
  })

  test('a heartbeat whose closure differs from the record returns Replay-From', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const a = await t.agent('h1')
    await event(a, 'h1', rid, {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'old-h1',
      receivedAt: iso(T0 + 61_000),
    })
    const r = await heartbeat(a, 'h1', { rollout_id: rid, current_closure: 'old-h1' })
    expect(r.status).toBe(200)
    expect(r.headers[REPLAY_FROM_HEADER.toLowerCase()]).toBe('1')
    // An agent ahead of the CP (its own last seq) is told where to replay from, per rollout.
    const ahead = await heartbeat(a, 'h1', {
      rollout_id: null,
      current_closure: 'old-h1',
      last_event_seq_by_rollout: { [rid]: 4 },
    })
    expect(ahead.json().replay_from_by_rollout).toEqual({ [rid]: 1 })
  })

  test('a heartbeat at the target synthesizes ActivationCompleted for an Activating host', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const a = await t.agent('h1')
    await event(a, 'h1', rid, {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'old-h1',
      receivedAt: iso(T0 + 61_000),
    })
    const r = await heartbeat(a, 'h1', { rollout_id: null, current_closure: closureOf('h1') })
    expect(await phase(t, rid, 'h1')).toBe('Soaking')
    // The bootstrap answer (no rollout_id) holds the one active record, post-synthesis.
    const boot = r.json().bootstrap_rollouts
    expect(boot).toHaveLength(1)
    expect(boot[0]).toMatchObject({
      rolloutId: rid,
      hostname: 'h1',
      state: 'Soaking',
      lastEventSeq: 2,
    })
    const synth = (await t.cp.store.events.ofKind('agent_event')).filter(
      (e) => e.payload['synthesized'] === true
    )
    expect(synth.map((e) => e.payload['kind'])).toEqual(['ActivationCompleted'])
    // With a rollout_id the bootstrap list is omitted.
    const r2 = await heartbeat(a, 'h1', { rollout_id: rid, current_closure: closureOf('h1') })
    expect(r2.json().bootstrap_rollouts).toBeUndefined()
  })

  test('no synthesis while the agent holds events the CP has not seen (they are replayed instead)', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const a = await t.agent('h1')
    await event(a, 'h1', rid, {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'old-h1',
      receivedAt: iso(T0 + 61_000),
    })
    const r = await heartbeat(a, 'h1', {
      current_closure: closureOf('h1'),
      last_event_seq_by_rollout: { [rid]: 4 },
    })
    expect(r.json().replay_from_by_rollout).toEqual({ [rid]: 1 })
    expect(await phase(t, rid, 'h1')).toBe('Activating')
    // The replayed events then apply with the agent's own seqs and times.
    const done = await event(a, 'h1', rid, {
      kind: 'ActivationCompleted',
      seq: 2,
      observedCurrentClosure: closureOf('h1'),
      exitCode: 0,
      completedAt: iso(T0 + 62_000),
    })
    expect(done.status).toBe(204)
    expect((await t.cp.store.hosts.get(rid, 'h1'))?.state.activationCompletedAt).toBe(T0 + 62_000)
  })

  test('no synthesis when the reported closure is not the target', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const a = await t.agent('h1')
    await event(a, 'h1', rid, {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'old-h1',
      receivedAt: iso(T0 + 61_000),
    })
    await heartbeat(a, 'h1', { current_closure: 'something-else' })
    expect(await phase(t, rid, 'h1')).toBe('Activating')
    expect(
      (await t.cp.store.events.ofKind('agent_event')).some((e) => e.payload['synthesized'] === true)
    ).toBe(false)
  })

  test('a Pending host already at its target converges without a dispatch', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    // The queued dispatch of h1 (wave 0) is withdrawn in favour of synthesis only if not
    // delivered; here h1 reports its target before taking it.
    const a = await t.agent('h1')
    await heartbeat(a, 'h1', { current_closure: closureOf('h1') })
    await settle(t)
    const rec = (await t.cp.store.hosts.get(rid, 'h1'))!.state
    expect(rec.phase).toBe('Converged')
    expect(rec.convergedAt).not.toBeNull()
    expect(rec.activationCompletedAt).not.toBeNull()
    expect(rec.dispatchAckedAt).not.toBeNull()
    const synth = (await t.cp.store.events.ofKind('agent_event')).filter(
      (e) => e.host === 'h1' && e.payload['synthesized'] === true
    )
    expect(synth.map((e) => e.payload['kind'])).toEqual([
      'DispatchAck',
      'ActivationCompleted',
      'Converged',
    ])
    // The dispatch queued for h1 before it reported was withdrawn.
    expect(queued(t, 'h1')).toEqual([])
    expect((await a.send('GET', '/v1/agent/dispatch?wait=0')).status).toBe(204)
  })

  test('hosts held by a rollout-wide gate share one gate_decision row per transaction', async () => {
    const spec: FleetSpec = {
      hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, h3: { channel: 'stable' } },
      channels: { stable: { waves: [['h1'], ['h3', 'h2']] } },
    }
    const { rolloutIds } = lab.publish(spec)
    t = await startCp(lab)
    await plan(t)
    const rows = await t.cp.store.events.ofKind('gate_decision')
    expect(rows).toHaveLength(1)
    expect(rows[0]!.host).toBeNull()
    expect(rows[0]!.rolloutId).toBe(rolloutIds[0]!)
    expect(rows[0]!.payload).toMatchObject({
      gate: 'wave-promotion',
      rollout: rolloutIds[0],
      hosts: ['h2', 'h3'],
    })
    expect(String(rows[0]!.payload['reason'])).toContain('wave 1')
    // Status still names the gate for each held host.
    const status = (await t.operator.send('GET', '/v1/hosts')).json()
    expect(JSON.stringify(status)).toContain('wave-promotion')
  })

  test('a wave-1 host at its target is not fast-forwarded while wave 0 is pending', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const a2 = await t.agent('h2')
    await heartbeat(a2, 'h2', { current_closure: closureOf('h2') })
    await plan(t)
    expect(await phase(t, rid, 'h2')).toBe('Pending')
    expect(queued(t, 'h2')).toEqual([])
    // Once wave 0 converges, h2 (already at target) converges by synthesis, not by dispatch.
    const a1 = await t.agent('h1')
    await heartbeat(a1, 'h1', { current_closure: closureOf('h1') })
    await plan(t)
    expect(await phase(t, rid, 'h2')).toBe('Converged')
    expect(t.cp.state.rollouts.get(rid)?.record.phase).toBe('Terminal')
  })

  test('the wave cursor advances when every wave-0 host converges, then wave 1 is queued', async () => {
    const { rolloutIds } = lab.publish(twoWaves)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    expect(queued(t, 'h1')).toEqual([rid])
    expect(queued(t, 'h2')).toEqual([])
    const a = await t.agent('h1')
    for (const ev of activationEvents('h1')) {
      expect((await event(a, 'h1', rid, ev)).status).toBe(204)
    }
    await plan(t)
    expect(t.cp.state.rollouts.get(rid)?.record.currentWave).toBe(1)
    expect(queued(t, 'h2')).toEqual([rid])
  })

  test('two channels sharing a channel ref get distinct rollouts', async () => {
    const spec: FleetSpec = {
      hosts: { s1: { channel: 'stable' }, e1: { channel: 'edge' } },
      channels: { stable: {}, edge: {} },
    }
    lab.publish(spec, { ciCommit: 'deadbeef' })
    t = await startCp(lab)
    expect([...t.cp.state.rollouts.keys()].sort()).toEqual(['edge@deadbeef', 'stable@deadbeef'])
    expect(queued(t, 's1')).toEqual(['stable@deadbeef'])
    expect(queued(t, 'e1')).toEqual(['edge@deadbeef'])
  })

  test('D-008: a channel-edge predecessor dispatches on the first tick under a shared budget', async () => {
    const spec: FleetSpec = {
      hosts: { h1: { channel: 'stable' }, h2: { channel: 'edge' } },
      channels: { stable: {}, edge: {} },
      channelEdges: [{ gates: 'stable', gated: 'edge' }],
      budgets: [{ hosts: ['h1', 'h2'], maxInFlight: 1 }],
    }
    const { rolloutIds } = lab.publish(spec)
    t = await startCp(lab)
    expect(queued(t, 'h1')).toEqual([rolloutIds.find((r) => r.startsWith('stable'))!])
    expect(queued(t, 'h2')).toEqual([])
  })

  test('D-008: the within-tick accumulator never over-commits a budget', async () => {
    const spec: FleetSpec = {
      hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, h3: { channel: 'stable' } },
      channels: { stable: {} },
      budgets: [{ hosts: ['h1', 'h2', 'h3'], maxInFlight: 1 }],
    }
    lab.publish(spec)
    t = await startCp(lab)
    const total = ['h1', 'h2', 'h3'].reduce((n, h) => n + queued(t!, h).length, 0)
    expect(total).toBe(1)
    const gates = (await t.cp.store.events.ofKind('gate_decision')).map((e) => e.payload['gate'])
    expect(gates).toEqual(['disruption-budget', 'disruption-budget'])
    // A blocked fleet does not write a row per host per tick (debounced).
    await plan(t)
    await plan(t)
    expect(await t.cp.store.events.ofKind('gate_decision')).toHaveLength(2)
    // Only a change of the holding gate writes a row; a changed reason updates the live status.
    const [held] = [...t.cp.state.gateBlocks.entries()]
    t.cp.state.gateBlocks.set(held![0], {
      ...held![1],
      reason: 'an older wording of the same gate',
    })
    await plan(t)
    expect(await t.cp.store.events.ofKind('gate_decision')).toHaveLength(2)
    expect(t.cp.state.gateBlocks.get(held![0])?.reason).not.toBe(
      'an older wording of the same gate'
    )
    t.cp.state.gateBlocks.set(held![0], { ...held![1], gate: 'wave-promotion' })
    await plan(t)
    expect((await t.cp.store.events.ofKind('gate_decision')).map((e) => e.payload['gate'])).toEqual(
      ['disruption-budget', 'disruption-budget', 'disruption-budget']
    )
  })
})

describe('halt, quarantine and operator actions', () => {
  const wide: FleetSpec = {
    hosts: { h1: { channel: 'stable' }, h2: { channel: 'stable' }, h3: { channel: 'stable' } },
    channels: { stable: { waves: [['h1', 'h2'], ['h3']], policy: 'rollback-and-halt' } },
  }

  test('a failure halts the rollout, deletes its queued dispatches, and an operator resumes it', async () => {
    const { rolloutIds } = lab.publish(wide)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    expect(queued(t, 'h2')).toEqual([rid])
    const a = await t.agent('h1')
    await event(a, 'h1', rid, {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'old-h1',
      receivedAt: iso(T0 + 61_000),
    })
    const f = await event(a, 'h1', rid, {
      kind: 'ActivationFailed',
      seq: 2,
      exitCode: 1,
      stderrTail: 'boom',
      failedAt: iso(T0 + 62_000),
    })
    expect(f.status).toBe(204)
    expect(t.cp.state.rollouts.get(rid)?.record.halt).not.toBeNull()
    expect(queued(t, 'h2')).toEqual([])
    await plan(t)
    expect(queued(t, 'h2')).toEqual([])
    expect(t.cp.state.gateBlocks.get(`${rid}\u0000h2`)?.gate).toBe('halted')

    // The rollback completes: the closure is quarantined on the channel.
    await event(a, 'h1', rid, {
      kind: 'RollbackComplete',
      seq: 3,
      revertedToClosure: 'old-h1',
      exitCode: 0,
      completedAt: iso(T0 + 63_000),
    })
    const q = await t.operator.send('GET', '/v1/operator/quarantines')
    expect(q.json().quarantines).toEqual([
      {
        channel: 'stable',
        closure: closureOf('h1'),
        reason: 'h1 rolled back from it: activation failed (exit 1): boom',
        rolloutId: rid,
        host: 'h1',
        at: iso(T0 + 60_000),
      },
    ])

    // Agents cannot reach operator routes; a rollout that is not halted cannot be resumed twice.
    expect(
      (await a.send('POST', `/v1/operator/rollouts/${rid}/resume`, { reason: 'x' })).status
    ).toBe(403)
    const resumed = await t.operator.send('POST', `/v1/operator/rollouts/${rid}/resume`, {
      reason: 'fixed the probe',
    })
    expect(resumed.status).toBe(200)
    expect(resumed.json()).toEqual({
      rolloutId: rid,
      state: 'Failed',
      halted: false,
      hostState: null,
    })
    expect(
      (await t.operator.send('POST', `/v1/operator/rollouts/${rid}/resume`, { reason: 'again' }))
        .status
    ).toBe(409)
    await settle(t)
    await plan(t)
    expect(queued(t, 'h2')).toEqual([rid])
    const audit = await t.cp.store.events.ofKind('operator_action')
    expect(audit.map((e) => [e.payload['action'], e.payload['operator']])).toEqual([
      ['resume', 'operator-alice'],
    ])

    // Clearing the quarantine is audited too; an unknown one is 404.
    const cleared = await t.operator.send('POST', '/v1/operator/quarantines/clear', {
      channel: 'stable',
      closure: closureOf('h1'),
      reason: 'fixed',
    })
    expect(cleared.status).toBe(200)
    expect(
      (
        await t.operator.send('POST', '/v1/operator/quarantines/clear', {
          channel: 'stable',
          closure: closureOf('h1'),
          reason: 'x',
        })
      ).status
    ).toBe(404)
    expect((await t.operator.send('GET', '/v1/operator/quarantines')).json().quarantines).toEqual(
      []
    )
  })

  test('an operator cancels a halted rollout: closed, nothing dispatched', async () => {
    const { rolloutIds } = lab.publish(wide)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const a = await t.agent('h1')
    await event(a, 'h1', rid, {
      kind: 'DispatchAck',
      seq: 1,
      currentClosureAtDispatch: 'old-h1',
      receivedAt: iso(T0 + 61_000),
    })
    await event(a, 'h1', rid, {
      kind: 'ActivationFailed',
      seq: 2,
      exitCode: 1,
      stderrTail: 'boom',
      failedAt: iso(T0 + 62_000),
    })
    const r = await t.operator.send('POST', `/v1/operator/rollouts/${rid}/cancel`, {
      reason: 'abandon this release',
    })
    expect(r.status).toBe(200)
    expect(r.json().state).toBe('Cancelled')
    await plan(t)
    expect(queued(t, 'h2')).toEqual([])
    const bad = await t.operator.send('POST', `/v1/operator/rollouts/${rid}/cancel`, {
      reason: 'x',
      extra: 1,
    })
    expect(bad.status).toBe(400)
  })
})

describe('re-derivability (rollout_rederivability.rs)', () => {
  test('a full lifecycle round-trips from the event log', async () => {
    const spec: FleetSpec = { hosts: { h1: { channel: 'stable' } }, channels: { stable: {} } }
    const { rolloutIds } = lab.publish(spec)
    t = await startCp(lab)
    const rid = rolloutIds[0]!
    const a = await t.agent('h1')
    await heartbeat(a, 'h1', { current_closure: closureOf('h1') })
    await settle(t)
    expect(t.cp.state.rollouts.get(rid)?.record.phase).toBe('Terminal')
    const rebuilt = rederiveRollouts(
      (await t.cp.store.events.ofKind('rollout_event')).map((e) => rolloutEventOf(e.payload))
    )
    expect(rebuilt.get(rid)).toEqual((await t.cp.store.rollouts.get(rid))!.record)
  })

  test('supersession round-trips from the event log', async () => {
    const spec: FleetSpec = { hosts: { h1: { channel: 'stable' } }, channels: { stable: {} } }
    const first = lab.publish(spec, { gen: 1 })
    t = await startCp(lab)
    const second = lab.publish(spec, { gen: 2, signedAt: T0 + 1000 })
    await t.operator.send('POST', '/v1/operator/refresh')
    const r1 = first.rolloutIds[0]!
    const r2 = second.rolloutIds[0]!
    expect(t.cp.state.rollouts.get(r1)?.record.phase).toBe('Superseded')
    expect(t.cp.state.rollouts.get(r2)?.record.phase).toBe('Active')
    const rebuilt = rederiveRollouts(
      (await t.cp.store.events.ofKind('rollout_event')).map((e) => rolloutEventOf(e.payload))
    )
    expect(rebuilt.get(r1)).toEqual((await t.cp.store.rollouts.get(r1))!.record)
    expect(rebuilt.get(r2)).toEqual((await t.cp.store.rollouts.get(r2))!.record)
  })
})
