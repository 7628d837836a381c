/**
 * The signed artifacts agents fetch (spec protocol.md §6.2, §8.2): `GET /v1/fleet.resolved`,
 * `/v1/rollouts/:id` and their `/sig`, byte for byte as verified. Agent and operator
 * certificates may read them (operators audit what agents are told). A manifest outside the
 * adopted release is fetched from the release source and verified before it is served.
 *
 * Invariant: a `/sig` request may pin the artifact it signs (`?sha256=<hex of the bytes the
 * agent fetched>`); when the artifact changed in between (a release adopted between the two
 * requests), the answer is 409 naming the current digest, never the signature of other bytes,
 * so a publication is not mistaken for tampering.
 */
import { Hono, type Context } from 'hono'
import { sha256Hex } from '../../../crypto/sha256.ts'
import { parseRolloutId } from '../../../proto/ids.ts'
import type { AppDeps, CpEnv } from '../deps.ts'
import { jsonError } from '../middleware/errors.ts'
import { identityGate, READERS } from '../middleware/gates.ts'

const octets = (c: Context, bytes: Uint8Array, type: string): Response =>
  c.body(bytes as Uint8Array<ArrayBuffer>, 200, { 'content-type': type })

// The digest of the served bytes (not the canonical form verification hashes), computed once per
// artifact: every agent poll asks for it.
const digests = new WeakMap<Uint8Array, string>()
function digestOf(bytes: Uint8Array): string {
  let d = digests.get(bytes)
  if (d === undefined) digests.set(bytes, (d = sha256Hex(bytes)))
  return d
}

/** The signature of `pair`, or 409 when `?sha256=` pins bytes other than the current ones. */
function signatureOf(
  c: Context,
  pair: { readonly bytes: Uint8Array; readonly signature: Uint8Array }
): Response {
  const pinned = c.req.query('sha256')
  const current = digestOf(pair.bytes)
  if (pinned !== undefined && pinned.toLowerCase() !== current)
    return jsonError(c, 409, 'artifact changed since its bytes were fetched', { sha256: current })
  return octets(c, pair.signature, 'application/octet-stream')
}

/** The artifact routes (mounted under `/v1`). */
export function artifactRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  const anyone = identityGate(deps, ['agent', ...READERS])

  app.get('/fleet.resolved', anyone, (c) => {
    const fleet = deps.state.release?.fleet
    if (fleet === undefined) return jsonError(c, 503, 'no verified fleet yet')
    return octets(c, fleet.bytes, 'application/json')
  })
  app.get('/fleet.resolved/sig', anyone, (c) => {
    const fleet = deps.state.release?.fleet
    if (fleet === undefined) return jsonError(c, 503, 'no verified fleet yet')
    return signatureOf(c, fleet)
  })

  const manifest = async (c: Context<CpEnv>, part: 'bytes' | 'signature'): Promise<Response> => {
    const id = c.req.param('id') ?? ''
    if (parseRolloutId(id) === undefined) return jsonError(c, 404, 'not a rollout id')
    const release = deps.state.release
    if (release === undefined) return jsonError(c, 503, 'no verified release yet')
    const adopted = Object.values(release.manifests).find((m) => m.rolloutId === id)
    if (adopted !== undefined) {
      return part === 'bytes'
        ? octets(c, adopted.bytes, 'application/json')
        : signatureOf(c, adopted)
    }
    const fetched = await deps.poller.manifestOnDemand(id)
    if (!fetched.ok)
      return jsonError(
        c,
        fetched.status,
        fetched.status === 404 ? 'unknown rollout manifest' : 'release source unavailable'
      )
    return part === 'bytes'
      ? octets(c, fetched.pair.bytes, 'application/json')
      : signatureOf(c, fetched.pair)
  }
  // An operator or a viewer asks for the rollout's detail here (the view routes), unless
  // `?artifact=1`; an agent always gets the signed manifest.
  app.get('/rollouts/:id', anyone, (c, next) =>
    c.get('caller').role !== 'agent' && c.req.query('artifact') === undefined
      ? next()
      : manifest(c, 'bytes')
  )
  app.get('/rollouts/:id/sig', anyone, (c) => manifest(c, 'signature'))
  return app
}
