/**
 * Whether a dispatch may be acted on (protocol §3.2; DECISIONS §3.1–3.2): only if it is
 * addressed to this host, names the rollout of the newest verified manifest of the host's
 * channel, that manifest is fresh *now*, and its `hostSet` lists this host with exactly the
 * dispatched target. Otherwise the refusal says why, as precisely as the agent can tell.
 * `judgeDispatch` is the decision on a view (pure); `explainForeign` names the reason a
 * dispatch for another rollout is refused, fetching that rollout's manifest to tell.
 */
import type { HostPolicy } from '../../core/index.ts'
import { checkFreshness } from '../../crypto/verify-artifact.ts'
import type { Dispatch } from '../../proto/agent.ts'
import { parseRolloutId } from '../../proto/ids.ts'
import type { Refusal, SignedArtifacts } from './artifacts.ts'
import { signedHostEntry, type ReleaseView } from './view.ts'

/** What a dispatch resolves to once accepted. */
export type AcceptedDispatch = {
  readonly rolloutId: string
  readonly channel: string
  readonly targetClosure: string
  readonly waveIndex: number
  readonly policy: HostPolicy
}

/** The verdict on a dispatch; `foreign` when it names another rollout than the view's. */
export type DispatchVerdict =
  | { readonly ok: true; readonly value: AcceptedDispatch }
  | { readonly ok: false; readonly refusal: Refusal }
  | { readonly ok: false; readonly foreign: true }

/** Whether `view` holds a manifest that is fresh at `now`. */
export function isFresh(view: ReleaseView | undefined, now: number): boolean {
  return (
    view?.manifest !== undefined &&
    checkFreshness(view.manifest.signedAtMs, now, view.manifestWindowSecs) === undefined
  )
}

/** The refusal of a dispatch when the agent has no view at all. */
export function noViewRefusal(
  rolloutId: string,
  rejection: (Refusal & { artifact: string }) | undefined
): Refusal {
  return rejection
    ? { kind: rejection.kind, message: `${rejection.artifact}: ${rejection.message}`, rolloutId }
    : {
        kind: 'Unavailable',
        message: 'no verified fleet.resolved yet (control plane unreachable)',
        rolloutId,
      }
}

/** The verdict on `dispatch` against `view` at `now`. */
export function judgeDispatch(
  dispatch: Dispatch,
  view: ReleaseView,
  machineId: string,
  now: number
): DispatchVerdict {
  const rolloutId = dispatch.rollout_id as string
  const refuse = (kind: string, message: string): DispatchVerdict => ({
    ok: false,
    refusal: { kind, message, rolloutId },
  })
  if (view.rolloutId !== rolloutId || !view.manifest) return { ok: false, foreign: true }
  const stale = checkFreshness(view.manifest.signedAtMs, now, view.manifestWindowSecs)
  if (stale) return refuse(stale.kind, `rollout manifest: ${stale.message}`)
  const entry = signedHostEntry(view, machineId)
  if (!entry)
    return refuse('NotInManifest', `the signed manifest of ${rolloutId} does not list this host`)
  if (entry.targetClosure !== dispatch.target_closure) {
    return refuse(
      'TargetMismatch',
      `dispatch target ${dispatch.target_closure} is not the signed target ${entry.targetClosure}`
    )
  }
  const { channel, targetClosure, waveIndex, policy } = entry
  if (!policy)
    return refuse('NoPolicy', `channel ${channel} has no rollout policy in the signed fleet`)
  return { ok: true, value: { rolloutId, channel, targetClosure, waveIndex, policy } }
}

/** Why a dispatch for a rollout that is not the view's current one is refused. */
export async function explainForeign(
  rolloutId: string,
  view: ReleaseView | undefined,
  artifacts: SignedArtifacts,
  now: () => number,
  signal: AbortSignal | undefined
): Promise<Refusal> {
  const parts = parseRolloutId(rolloutId)
  if (parts && view?.channel !== undefined && parts.channel !== view.channel) {
    return {
      kind: 'WrongChannel',
      message: `dispatch is for channel ${parts.channel} but this host is on channel ${view.channel}`,
      rolloutId,
    }
  }
  const rej = artifacts.lastRejection
  if (rej && (rej.rolloutId === rolloutId || rej.artifact === 'fleet')) {
    return { kind: rej.kind, message: `${rej.artifact}: ${rej.message}`, rolloutId }
  }
  const current = view?.rolloutId ?? 'none'
  const notCurrent: Refusal = {
    kind: 'NotCurrent',
    message: `dispatch names ${rolloutId} but the current verified release for this host is ${current}`,
    rolloutId,
  }
  const mf = await artifacts.fetchManifest(rolloutId, signal)
  if (!mf.ok) return notCurrent
  const mv = await artifacts.verifyManifest(mf.value, rolloutId, undefined, now())
  if (!mv.ok)
    return { kind: mv.error.kind, message: `rollout manifest: ${mv.error.message}`, rolloutId }
  if (artifacts.isRollback(mv.manifest.verified)) {
    return {
      kind: 'Rollback',
      message: `rollout manifest signed ${mv.manifest.verified.signedAt} is older than the release already accepted (${current})`,
      rolloutId,
    }
  }
  return notCurrent
}
