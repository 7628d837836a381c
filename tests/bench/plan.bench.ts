/**
 * `bun run bench:plan`: the cost of one `planNext` pass over a synthetic 10,000-host fleet in
 * 4 channels (canary-then-rest waves, 40 rack budgets of 2 plus a 10 % fleet budget, host edges,
 * a channel-edge chain), taken from `synthetic-fleet.ts`, parsed with the proto schema and
 * projected into per-channel manifests by the release code, as the CP would see them.
 *
 * Two states are timed:
 * - `mid-rollout`: the first two channels finished, the third in wave 1 (canaries converged,
 *   1 in 32 of wave 1 in flight), the fourth not opened yet (it also waits on its edge);
 * - `all-busy`: the same fleet without channel edges and every channel in wave 1, so about
 *   5,000 hosts run through every gate up to the budgets (the worst case for the gates).
 * Prints one line per state, then one JSON object on the last line; `median_ms` is the worse of
 * the two medians. Target: under 50 ms on a 2-core machine.
 */
import * as v from 'valibot'
import { planNext } from '../../src/core/planner/plan-next.ts'
import type { FleetState, HostRecordView, RolloutView } from '../../src/core/planner/types.ts'
import { projectRolloutManifest } from '../../src/core/release/projection.ts'
import type { FleetView, ManifestSet, RolloutManifest } from '../../src/core/types.ts'
import { FleetResolvedSchema } from '../../src/proto/fleet.ts'
import { ChannelNameSchema } from '../../src/proto/ids.ts'
import { syntheticFleet } from './synthetic-fleet.ts'

const HOSTS = Number(process.env.BENCH_HOSTS ?? 10_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 31)
const WARMUP = 5

const parsed = v.parse(FleetResolvedSchema, syntheticFleet(HOSTS, '2026-06-01T11:00:00Z'))
// The proto output types must be assignable to core's structural input types.
const fleet: FleetView = parsed

/** The per-channel manifests, projected by the release code (protocol §3.2). */
function project(): Record<string, RolloutManifest> {
  const out: Record<string, RolloutManifest> = {}
  for (const name of Object.keys(parsed.channels)) {
    const channel = v.parse(ChannelNameSchema, name)
    const manifest = projectRolloutManifest(parsed, '0'.repeat(64), channel, 'ed25519')
    if (manifest !== undefined) out[name] = manifest
  }
  return out
}

type ChannelState = { phase: RolloutView['phase']; wave: number } | 'unopened'

/** A fleet state: per channel, hosts below the wave Converged, 1 in 32 of it in flight. */
function stateOf(ms: ManifestSet, channels: Record<string, ChannelState>): FleetState {
  const rollouts: Record<string, RolloutView> = {}
  const hosts: Record<string, Record<string, HostRecordView>> = {}
  for (const [channel, m] of Object.entries(ms.rollouts)) {
    const cs = channels[channel] ?? 'unopened'
    if (cs === 'unopened') continue
    const rolloutId = `${channel}@${m.channelRef}`
    rollouts[rolloutId] = { rolloutId, channel, phase: cs.phase, currentWave: cs.wave, halt: null }
    const waves = ms.fleet.waves[channel] ?? []
    const records: Record<string, HostRecordView> = {}
    m.hostSet.forEach((e, i) => {
      const w = waves.findIndex((x) => x.hosts.includes(e.hostname))
      const phase =
        cs.phase === 'Terminal' || w < cs.wave
          ? 'Converged'
          : w === cs.wave && i % 32 === 1
            ? i % 64 === 1
              ? 'Soaking'
              : 'Activating'
            : 'Pending'
      records[e.hostname] = {
        hostname: e.hostname,
        phase,
        targetClosure: e.targetClosure,
        dispatchAckedAt: phase === 'Pending' ? null : 1,
      }
    })
    hosts[rolloutId] = records
  }
  return { rollouts, hosts }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

function time(name: string, ms: ManifestSet, state: FleetState): number {
  const quarantines = { stable: ['no-such-closure'] }
  let actions = planNext(ms, state, quarantines, 0)
  for (let i = 0; i < WARMUP; i++) actions = planNext(ms, state, quarantines, 0)
  const samples: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now()
    actions = planNext(ms, state, quarantines, 0)
    samples.push(performance.now() - t)
  }
  const counts: Record<string, number> = {}
  for (const a of actions) {
    const k = a.type === 'DeferDispatch' ? `defer:${a.gate}` : a.type
    counts[k] = (counts[k] ?? 0) + 1
  }
  const m = median(samples)
  console.log(
    `${name}: median ${m.toFixed(2)} ms over ${RUNS} runs; actions ${JSON.stringify(counts)}`
  )
  return m
}

const manifests: ManifestSet = { fleet, rollouts: project() }
const [c0, c1, c2] = Object.keys(fleet.channels)
const mid = time(
  'mid-rollout',
  manifests,
  stateOf(manifests, {
    [c0!]: { phase: 'Terminal', wave: 2 },
    [c1!]: { phase: 'Terminal', wave: 2 },
    [c2!]: { phase: 'Active', wave: 1 },
  })
)
const unchained: ManifestSet = {
  fleet: { ...fleet, channelEdges: [] },
  rollouts: manifests.rollouts,
}
const busy = time(
  'all-busy',
  unchained,
  stateOf(
    unchained,
    Object.fromEntries(Object.keys(fleet.channels).map((c) => [c, { phase: 'Active', wave: 1 }]))
  )
)
console.log(
  JSON.stringify({
    hosts: HOSTS,
    median_ms: Number(Math.max(mid, busy).toFixed(3)),
    mid_rollout_ms: Number(mid.toFixed(3)),
    all_busy_ms: Number(busy.toFixed(3)),
    runs: RUNS,
  })
)
