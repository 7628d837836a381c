/**
 * Gate 7, `compliance-wave`: a host of wave N > 0 waits while hosts of earlier waves of the
 * same rollout have outstanding failing enforce-probe results. Wave 0 and unstaged hosts pass.
 */
import type { Gate } from '../context.ts'
import { nameList } from '../context.ts'

/** The compliance-wave gate. */
export const complianceWaveGate: Gate = (_ctx, plan, c) => {
  if (c.wave === null || c.wave === 0) return undefined
  let count = 0
  const hosts: string[] = []
  for (let w = 0; w < c.wave; w++) {
    const bucket = plan.failuresByWave[w]
    if (bucket === undefined) continue
    count += bucket.count
    hosts.push(...bucket.hosts)
  }
  if (count === 0) return undefined
  return {
    gate: 'compliance-wave',
    reason:
      `wave ${c.wave} waits: ${count} failing enforce-probe result(s) in earlier waves ` +
      `(${nameList(hosts)})`,
  }
}
