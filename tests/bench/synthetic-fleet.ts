/**
 * A deterministic synthetic fleet.resolved for benchmarks: N hosts over 4 channels with
 * canary-then-rest waves, tag budgets, host edges and a channel-edge chain.
 */

const CHANNELS = ['edge', 'staging', 'stable', 'lts'] as const

/** A plain-JSON fleet.resolved of `hosts` hosts, stamped with `signedAt`. */
export function syntheticFleet(hosts: number, signedAt: string): Record<string, unknown> {
  const hostMap: Record<string, unknown> = {}
  const byChannel: Record<string, string[]> = {}
  for (let i = 0; i < hosts; i++) {
    const name = `host-${String(i).padStart(5, '0')}`
    const channel = CHANNELS[i % CHANNELS.length]!
    ;(byChannel[channel] ??= []).push(name)
    hostMap[name] = {
      platform: i % 7 === 0 ? 'aarch64-linux' : 'x86_64-linux',
      tags: [`rack-${i % 40}`, i % 10 === 0 ? 'canary' : 'fleet', `role-${i % 5}`],
      channel,
      closureHash: `${String(i % 1000).padStart(3, '0')}${'a'.repeat(29)}-nixos-system-${name}-25.05`,
      pubkey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${String(i).padStart(43, 'A')} root@${name}`,
    }
  }
  const waves: Record<string, unknown> = {}
  for (const [channel, names] of Object.entries(byChannel)) {
    const canary = names.filter((_, j) => j % 50 === 0)
    const rest = names.filter((_, j) => j % 50 !== 0)
    const half = Math.ceil(rest.length / 2)
    waves[channel] = [
      { hosts: canary, soakMinutes: 10 },
      { hosts: rest.slice(0, half), soakMinutes: 30 },
      { hosts: rest.slice(half), soakMinutes: 30 },
    ]
  }
  const channels: Record<string, unknown> = {}
  for (const c of CHANNELS) {
    channels[c] = {
      rolloutPolicy: 'canary',
      reconcileIntervalMinutes: 30,
      freshnessWindow: 1440,
      signingIntervalMinutes: 60,
    }
  }
  const selector = (o: Record<string, unknown>) => ({
    tags: [],
    tagsAny: [],
    hosts: [],
    channel: null,
    all: false,
    ...o,
  })
  return {
    schemaVersion: 1,
    hosts: hostMap,
    channels,
    rolloutPolicies: {
      canary: {
        strategy: 'canary',
        waves: [
          { selector: selector({ tags: ['canary'] }), soakMinutes: 10 },
          { selector: selector({ all: true }), soakMinutes: 30 },
        ],
        healthGate: { systemdFailedUnits: { max: 0 } },
        onHealthFailure: 'rollback-and-halt',
      },
    },
    waves,
    edges: Array.from({ length: Math.floor(hosts / 100) }, (_, k) => ({
      gated: `host-${String(k * 100 + 4).padStart(5, '0')}`,
      gates: `host-${String(k * 100).padStart(5, '0')}`,
      reason: 'database before its clients',
    })),
    channelEdges: CHANNELS.slice(1).map((c, k) => ({ gates: CHANNELS[k], gated: c, reason: null })),
    disruptionBudgets: [
      ...Array.from({ length: 40 }, (_, r) => ({
        selector: selector({ tags: [`rack-${r}`] }),
        maxInFlight: 2,
        maxInFlightPct: null,
      })),
      { selector: selector({ all: true }), maxInFlight: null, maxInFlightPct: 10 },
    ],
    meta: {
      schemaVersion: 1,
      signedAt,
      ciCommit: '0123456789abcdef0123456789abcdef01234567',
      signatureAlgorithm: 'ed25519',
    },
  }
}
