/**
 * `bun run bench:verify`: end-to-end verification cost of a synthetic 10,000-host signed
 * fleet.resolved (strict parse, RFC 8785 canonicalization, SHA-256, Ed25519, schema check) and
 * the canonicalizer's throughput. Prints figures; the last line is one JSON object.
 * Target on a 2-core machine: median under 150 ms for 10,000 hosts.
 */
import { canonicalize } from '../../src/crypto/canonical-json.ts'
import { ed25519PublicKey, ed25519Sign } from '../../src/crypto/ed25519.ts'
import { verifyArtifact } from '../../src/crypto/verify-artifact.ts'
import { toBase64 } from '../../src/lib/bytes.ts'
import { FleetResolvedSchema } from '../../src/proto/fleet.ts'
import { syntheticFleet } from './synthetic-fleet.ts'

const HOSTS = Number(process.env.BENCH_HOSTS ?? 10_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 21)
const NOW = Date.parse('2026-06-01T12:00:00Z')

const fleet = syntheticFleet(HOSTS, '2026-06-01T11:00:00Z')
// Pretty-printed input, as CI might hand it over, so canonicalization does real work.
const pretty = new TextEncoder().encode(JSON.stringify(fleet, null, 2))
const canonical = canonicalize(pretty)
const seed = new Uint8Array(32).fill(7)
const signature = ed25519Sign(canonical, seed)
const slot = {
  current: { algorithm: 'ed25519', public: toBase64(ed25519PublicKey(seed)) },
  previous: null,
  successor: null,
  retireAt: null,
  rejectBefore: null,
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const verifyTimes: number[] = []
for (let i = 0; i < RUNS + 2; i++) {
  const t0 = performance.now()
  const r = await verifyArtifact({
    bytes: canonical,
    signature,
    schema: FleetResolvedSchema,
    slot,
    now: NOW,
    freshnessWindowSecs: 86_400,
  })
  const dt = performance.now() - t0
  if (!r.ok) throw new Error(`benchmark fleet did not verify: ${r.error.kind}`)
  if (i >= 2) verifyTimes.push(dt) // the first runs warm the JIT
}

const canonTimes: number[] = []
for (let i = 0; i < RUNS + 2; i++) {
  const t0 = performance.now()
  canonicalize(pretty)
  const dt = performance.now() - t0
  if (i >= 2) canonTimes.push(dt)
}

const mb = pretty.length / 1e6
const result = {
  hosts: HOSTS,
  artifact_bytes: canonical.length,
  runs: RUNS,
  median_ms: Number(median(verifyTimes).toFixed(2)),
  p90_ms: Number([...verifyTimes].sort((a, b) => a - b)[Math.floor(RUNS * 0.9)]!.toFixed(2)),
  canonicalize_median_ms: Number(median(canonTimes).toFixed(2)),
  canonicalize_mb_s: Number((mb / (median(canonTimes) / 1000)).toFixed(1)),
  target_ms: 150,
}
console.log(
  `verify ${HOSTS} hosts (${(canonical.length / 1e6).toFixed(2)} MB canonical): median ${result.median_ms} ms, p90 ${result.p90_ms} ms`
)
console.log(
  `canonicalize ${mb.toFixed(2)} MB pretty JSON: median ${result.canonicalize_median_ms} ms, ${result.canonicalize_mb_s} MB/s`
)
console.log(JSON.stringify(result))
