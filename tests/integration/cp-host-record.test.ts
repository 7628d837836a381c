/**
 * The host record on a real CP (real SQLite, real mTLS): the closure follows the agent's
 * ActivationCompleted at once, a heartbeat sent before that switch does not put the old closure
 * back, the history keeps both, the certificate is the one the heartbeats come with, and the
 * record survives a restart of the CP on the same database.
 */
import { describe, expect, test } from 'bun:test'
import {
  activationEvents,
  closureOf,
  iso,
  labPerTest,
  startCp,
  T0,
  type FleetSpec,
} from './cp-support.ts'

const env = labPerTest()

const one: FleetSpec = {
  hosts: { h1: { channel: 'stable' } },
  channels: { stable: { waves: [['h1']] } },
}

type Row = {
  currentClosure: string | null
  lastRollout: { id: string; outcome: string | null } | null
  certificate: { serial: string; notAfter: string; revoked: boolean } | null
  closureHistory: { closure: string; rolloutId: string | null }[]
}

describe('host record', () => {
  test('follows events at once, ignores a heartbeat from before the switch, survives a restart', async () => {
    const { rolloutIds } = env.lab.publish(one)
    const rid = rolloutIds[0]!
    const dbPath = `${env.lab.dir}/state.db`
    const t = (env.t = await startCp(env.lab, {
      config: { database: { kind: 'sqlite', path: dbPath } },
    }))
    const a1 = await t.agent('h1')
    const row = async (): Promise<Row> =>
      (await t.operator.send('GET', '/v1/hosts/h1')).json() as Row
    const beat = (at: number, closure: string) =>
      a1.send('POST', '/v1/agent/heartbeat', {
        hostname: 'h1',
        rollout_id: null,
        current_closure: closure,
        at: iso(at),
      })
    expect((await beat(T0 + 60_000, 'old-h1')).status).toBe(200)
    expect((await row()).currentClosure).toBe('old-h1')
    const post = (event: Record<string, unknown>) =>
      a1.send('POST', '/v1/agent/events', { hostname: 'h1', rolloutId: rid, event })
    // Ack and ActivationCompleted (completed at T0 + 62 s on the agent's clock).
    for (const event of activationEvents('h1').slice(0, 2))
      expect((await post(event)).status).toBe(204)
    // No heartbeat since: the event alone moved the closure.
    expect((await row()).currentClosure).toBe(closureOf('h1'))
    // A heartbeat the agent sent before the switch, arriving late.
    expect((await beat(T0 + 61_500, 'old-h1')).status).toBe(200)
    const r = await row()
    expect(r.currentClosure).toBe(closureOf('h1'))
    expect(r.closureHistory).toEqual([
      expect.objectContaining({ closure: closureOf('h1'), rolloutId: rid }),
      expect.objectContaining({ closure: 'old-h1', rolloutId: null }),
    ])
    expect(r.lastRollout).toEqual({ id: rid, outcome: 'in-progress' })
    expect(r.certificate?.revoked).toBe(false)
    expect(r.certificate?.serial).toMatch(/^[0-9a-f]+$/)

    // The record is durable: a CP restarted on the same database knows it before any heartbeat.
    await t.stop()
    const t2 = (env.t = await startCp(env.lab, {
      config: { database: { kind: 'sqlite', path: dbPath } },
    }))
    const again = (await t2.operator.send('GET', '/v1/hosts/h1')).json() as Row
    expect(again.currentClosure).toBe(closureOf('h1'))
    expect(again.closureHistory.map((c) => c.closure)).toEqual([closureOf('h1'), 'old-h1'])
    expect(again.certificate?.serial).toBe(r.certificate?.serial)
  })
})
