/**
 * The pure parts of the operator CLI: the config file's TOML subset (round trip, errors with
 * line numbers), connection precedence, SSE parsing, rollout id abbreviation (unique, ambiguous,
 * unknown), the status's freshness sentence and change lines, and durations.
 */
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseCommandArgs } from './args.ts'
import { freshnessLine, statusChanges, statusSpec } from './commands/status.ts'
import { CliError } from './errors.ts'
import { ChannelRowSchema, RolloutRowSchema } from './operator-api.ts'
import { parseSseBlock } from './operator-client.ts'
import {
  checkName,
  durationMs,
  eventDetail,
  resolveRolloutId,
  tableWithDetail,
} from './operator-common.ts'
import { haltLine } from './commands/rollout.ts'
import {
  checkUrl,
  configPath,
  formatFlatToml,
  parseFlatToml,
  readConfigFile,
  resolveConnection,
} from './operator-config.ts'
import * as v from 'valibot'

describe('config file', () => {
  test('round trip, with quotes, backslashes and comments', () => {
    const values = { cp_url: 'https://cp:8443', ca_cert: '/a "b"\\c' }
    expect(parseFlatToml(formatFlatToml(values, 'header'), 'f')).toEqual(values)
    expect(parseFlatToml('# c\n\nk = "v" # trailing\n', 'f')).toEqual({ k: 'v' })
  })

  test('a malformed or repeated line is an error naming the line', () => {
    expect(() => parseFlatToml('a = "1"\nb = 2\n', 'f.toml')).toThrow(
      'f.toml:2: expected key = "string"'
    )
    expect(() => parseFlatToml('a = "1"\na = "2"\n', 'f.toml')).toThrow('f.toml:2: a is set twice')
  })

  test('path: NIXFLEET_CONFIG, then XDG_CONFIG_HOME, then ~/.config', () => {
    expect(configPath({ NIXFLEET_CONFIG: '/x/c.toml', XDG_CONFIG_HOME: '/y' })).toBe('/x/c.toml')
    expect(configPath({ XDG_CONFIG_HOME: '/y', HOME: '/h' })).toBe('/y/nixfleet/config.toml')
    expect(configPath({ HOME: '/h' })).toBe('/h/.config/nixfleet/config.toml')
  })

  test('flags beat the environment, which beats the file; relative paths are the file’s', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixfleet-config-'))
    try {
      const file = join(dir, 'c.toml')
      writeFileSync(
        file,
        formatFlatToml(
          {
            cp_url: 'https://file',
            ca_cert: 'ca.pem',
            client_cert: 'op.pem',
            client_key: 'op.key',
          },
          'test'
        )
      )
      const args = parseCommandArgs(statusSpec, ['--client-key', '/flag.key'], {})
      const c = resolveConnection(args, { NIXFLEET_CONFIG: file, NIXFLEET_CLIENT_CERT: '/env.pem' })
      expect(c).toMatchObject({
        url: 'https://file',
        caCert: join(dir, 'ca.pem'),
        clientCert: '/env.pem',
        clientKey: '/flag.key',
        sources: { cp_url: file, client_cert: 'NIXFLEET_CLIENT_CERT', client_key: '--client-key' },
      })
      const none = parseCommandArgs(statusSpec, [], {})
      expect(() => resolveConnection(none, { NIXFLEET_CONFIG: join(dir, 'missing.toml') })).toThrow(
        'run nixfleet config init'
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

test('SSE blocks: event, id, multi-line data; comments alone are nothing', () => {
  expect(parseSseBlock('event: change\nid: 7\ndata: {"a":\ndata: 1}')).toEqual({
    event: 'change',
    id: '7',
    data: '{"a":\n1}',
  })
  expect(parseSseBlock(': keep-alive')).toBeUndefined()
})

describe('rollout id abbreviation', () => {
  const client = (ids: string[]) => ({
    rollouts: async () =>
      v.parse(v.object({ rollouts: v.array(RolloutRowSchema), next: v.null() }), {
        rollouts: ids.map((id) => ({ id, channel: id.split('@')[0], state: 'Active' })),
        next: null,
      }),
  })
  const a = `stable@3eac${'1'.repeat(36)}`
  const b = `stable@3eaf${'2'.repeat(36)}`

  test('a unique prefix resolves; the full id is itself', async () => {
    expect(await resolveRolloutId(client([a, b]), 'stable@3eac')).toBe(a)
    expect(await resolveRolloutId(client([a, b]), b)).toBe(b)
    expect(await resolveRolloutId(client([a]), 'stable@3ea')).toBe(a)
  })

  test('ambiguous or unknown is a usage error naming the candidates', async () => {
    const ambiguous = resolveRolloutId(client([a, b]), 'stable@3ea')
    await expect(ambiguous).rejects.toThrow(`rollout 'stable@3ea' is ambiguous: ${a}, ${b}`)
    await expect(resolveRolloutId(client([a]), 'stable@ff')).rejects.toThrow(
      "no rollout matches 'stable@ff'"
    )
    await expect(resolveRolloutId(client([a]), '3eac')).rejects.toBeInstanceOf(CliError)
  })
})

test('freshness: when to re-sign, now, or that the release is stale', () => {
  const now = new Date('2026-05-01T12:00:00Z')
  const ch = (o: Record<string, unknown>) => v.parse(ChannelRowSchema, { name: 'stable', ...o })
  const fresh = { freshUntil: '2026-05-01T18:00:00Z', stale: false }
  expect(freshnessLine(ch({ ...fresh, resignBefore: '2026-05-01T17:00:00Z' }), now)).toBe(
    're-sign before 17:00Z (fresh until 18:00Z)'
  )
  expect(freshnessLine(ch({ ...fresh, resignBefore: '2026-05-01T11:00:00Z' }), now)).toBe(
    're-sign now (due at 11:00Z; fresh until 18:00Z)'
  )
  expect(
    freshnessLine(
      ch({ freshUntil: '2026-05-02T18:00:00Z', resignBefore: '2026-05-02T17:00:00Z' }),
      now
    )
  ).toBe('re-sign before 2026-05-02 17:00Z (fresh until 2026-05-02 18:00Z)')
  // One of them today, the other not: both dated, or the bare time reads as the other's day.
  expect(
    freshnessLine(
      ch({ freshUntil: '2026-05-02T11:00:00Z', resignBefore: '2026-05-01T18:00:00Z' }),
      now
    )
  ).toBe('re-sign before 2026-05-01 18:00Z (fresh until 2026-05-02 11:00Z)')
  expect(freshnessLine(ch({ freshUntil: '2026-05-01T11:00:00Z', stale: true }), now)).toBe(
    '! release stale since 2026-05-01 11:00:00Z: CI must re-sign it'
  )
  expect(freshnessLine(ch({}), now)).toBeUndefined()
})

test('status changes: one line per host or channel that moved', () => {
  const s = (state: string, problem: { kind: string; message: string } | null = null) => ({
    channels: [{ name: 'stable', rolloutId: 'stable@1', rolloutState: 'Active', gates: [] }],
    hosts: [{ hostname: 'h1', channel: 'stable', rolloutState: state, problem }],
  })
  expect(statusChanges(undefined, s('Pending'))).toEqual([
    'stable: rollout stable@1 Active',
    'h1: Pending',
  ])
  expect(statusChanges(s('Pending'), s('Pending'))).toEqual([])
  expect(
    statusChanges(s('Pending'), s('Activating', { kind: 'offline', message: 'not seen for 3m' }))
  ).toEqual(['h1: Pending → Activating', 'h1: problem offline: not seen for 3m'])
})

test('durations', () => {
  expect(durationMs('90', 'c', 't')).toBe(90_000)
  expect(durationMs('5m', 'c', 't')).toBe(300_000)
  expect(durationMs('250ms', 'c', 't')).toBe(250)
  expect(() => durationMs('soon', 'c', 't')).toThrow('--t must be a duration')
})

describe('config file keys', () => {
  test('an unknown key names the closest known one and its line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nixfleet-config-'))
    try {
      const file = join(dir, 'c.toml')
      writeFileSync(file, '# c\ncp_url = "https://cp:8443"\nclient_crt = "a.pem"\n')
      expect(() => readConfigFile(file)).toThrow(
        `${file}:3: unknown key client_crt (did you mean client_cert?)`
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the control plane URL and the config file named by NIXFLEET_CONFIG', () => {
  test('https://HOST[:PORT] only, naming where the value came from', () => {
    expect(checkUrl('https://cp:8443/', '--cp-url')).toBe('https://cp:8443')
    expect(() => checkUrl('127.0.0.1:43609', '--cp-url')).toThrow(
      "control plane URL '127.0.0.1:43609' (from --cp-url) must be https://HOST[:PORT]"
    )
    expect(() => checkUrl('cp.example', 'NIXFLEET_CP_URL')).toThrow('(from NIXFLEET_CP_URL)')
    expect(() => checkUrl('http://cp:8443', '/c.toml')).toThrow(
      'the control plane only speaks https'
    )
    expect(() => checkUrl('https://cp:8443/api', '--cp-url')).toThrow('without a path')
  })

  test('a missing file named by NIXFLEET_CONFIG is named as such', () => {
    const args = parseCommandArgs(statusSpec, [], {})
    expect(() => resolveConnection(args, { NIXFLEET_CONFIG: '/nonexistent/op.toml' })).toThrow(
      'NIXFLEET_CONFIG names /nonexistent/op.toml, which does not exist'
    )
    // The default file missing: the settings are missing, and config init is named.
    expect(() => resolveConnection(args, { HOME: '/nonexistent' })).toThrow(
      'run nixfleet config init (looked in /nonexistent/.config/nixfleet/config.toml)'
    )
  })
})

describe('event details', () => {
  const ev = (kind: string, payload: Record<string, unknown>) => ({ seq: 1, kind, payload })

  test('a probe result names the probe and why it failed', () => {
    expect(
      eventDetail(
        ev('agent_event', {
          kind: 'ProbeResult',
          probeName: 'system-healthy',
          status: 'Fail',
          failureReason: 'exit status 1',
        })
      )
    ).toBe('probe system-healthy: Fail: exit status 1')
    expect(
      eventDetail(
        ev('agent_event', { kind: 'Failed', failingProbes: ['web'], policyApplied: 'halt' })
      )
    ).toBe('failing probes: web (halt)')
  })

  test('transitions, gates, closures and operator actions', () => {
    expect(
      eventDetail(ev('effect', { effect: 'RecordTransition', from: 'Soaking', to: 'Failed' }))
    ).toBe('transition Soaking→Failed')
    expect(eventDetail(ev('gate_decision', { gate: 'budget', reason: '1 of 1 in use' }))).toBe(
      'budget: 1 of 1 in use'
    )
    expect(
      eventDetail(ev('agent_event', { kind: 'Converged', currentClosure: 'abcdef0123456789-x' }))
    ).toBe('closure abcdef012345')
    expect(
      eventDetail(
        ev('operator_action', { action: 'retry', target: 'web-1', operator: 'alice', reason: 'r' })
      )
    ).toBe('retry web-1 by alice: r')
    // Anything else: its scalar fields, so nothing is hidden.
    expect(
      eventDetail(ev('effect', { effect: 'UpdateCurrentWave', rollout_id: 'x', wave: 2 }))
    ).toBe('UpdateCurrentWave wave=2')
  })

  test('the detail column is cut to the terminal, or to 80 characters', () => {
    const lines = tableWithDetail(['SEQ', 'DETAIL'], [['1', 'x'.repeat(200)]], 100)
    expect(lines[1]!.length).toBe(100)
    expect(lines[1]!.endsWith('…')).toBe(true)
    const piped = tableWithDetail(['SEQ', 'DETAIL'], [['1', 'x'.repeat(200)]], undefined)
    expect(piped[1]).toBe(`1    ${'x'.repeat(79)}…`)
  })

  test('a halt names its probe and says when it no longer holds the rollout', () => {
    const halt = {
      host: 'stable-01',
      hostPhase: 'Failed',
      at: '2026-12-04T17:00:00Z',
      probe: 'system-healthy',
      reason: 'exit status 1',
      active: false,
    }
    expect(haltLine(halt)).toBe(
      'halt: stable-01 Failed at 2026-12-04 17:00:00Z: probe system-healthy: exit status 1 (resolved — no longer holds the rollout)'
    )
    expect(haltLine({ ...halt, active: true })).not.toContain('resolved')
  })
})

describe('a filter naming an unknown channel or host', () => {
  const client = {
    channels: async () => [{ name: 'stable' }, { name: 'beta' }],
    hosts: async () => ({ hosts: [{ hostname: 'stable-01' }, { hostname: 'stable-02' }] }),
  } as unknown as Parameters<typeof checkName>[0]

  test('is a usage error naming the closest known name', async () => {
    const e = await checkName(client, 'hosts', 'channel', 'stabel').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(CliError)
    expect((e as CliError).message).toBe("hosts: no channel 'stabel' (did you mean stable?)")
    expect((e as CliError).exitCode).toBe(2)
    await expect(checkName(client, 'rollout events', 'host', 'stable-1')).rejects.toThrow(
      "rollout events: no host 'stable-1' (did you mean stable-01?)"
    )
    await expect(checkName(client, 'hosts', 'channel', 'zzzzzz')).rejects.toThrow(
      "no channel 'zzzzzz' (known: beta, stable)"
    )
  })

  test('a known name, or none given, passes', async () => {
    await checkName(client, 'hosts', 'channel', 'stable')
    await checkName(client, 'hosts', 'channel', undefined)
  })
})
