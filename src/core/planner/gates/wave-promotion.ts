/**
 * Gate 4, `wave-promotion`: only hosts of the current wave (or earlier) are dispatched; a wave
 * is done when every host in it is Converged or skipped by an operator, a Converged host only
 * once its soak has ended on the control plane's clock (`FleetState.soakEndsAt`); a Deferred host
 * (waiting for a reboot into its target) counts only when the policy sets
 * `healthGate.deferredCountsAsDone`. A host of a staged channel that no wave lists is denied
 * (`wave-promotion-host-unstaged`, D-027 default-deny); a channel without waves is not staged and
 * passes.
 */
import type { Gate } from '../context.ts'

/** The wave-promotion gate. */
export const wavePromotionGate: Gate = (_ctx, plan, c) => {
  if (!plan.staged) return undefined
  if (c.wave === null) {
    return {
      gate: 'wave-promotion-host-unstaged',
      reason:
        `host ${c.hostname} is in no wave of channel '${plan.channel}' (default-deny); ` +
        'add it to a wave selector',
    }
  }
  if (c.wave <= plan.currentWave) return undefined
  const progress = plan.waveProgress || `wave ${plan.currentWave} not done`
  return { gate: 'wave-promotion', reason: `wave ${c.wave} waits: ${progress}` }
}
