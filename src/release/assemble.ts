/**
 * Assembling a release: from the raw fleet.resolved JSON (as Nix or the operator produced it)
 * plus closures, commit and time, the canonical bytes of every artifact to sign — the fleet,
 * one rollout manifest per channel with a closure, and optionally revocations and
 * bootstrap-nonces. Pure: no I/O, no clock; signing and writing belong to the caller.
 * Invariants: the operator's JSON is modified only where the release stamps it (closureHash,
 * expired pins, meta), so unknown additive fields survive into the signed bytes; every
 * artifact passes its schema before it is returned.
 */
import * as v from 'valibot'
import { type JsonValue, canonicalizeValue } from '../crypto/canonical-json.ts'
import { sha256Hex } from '../crypto/sha256.ts'
import { utf8 } from '../lib/bytes.ts'
import { projectRolloutManifest, rolloutIdFor } from '../core/release/projection.ts'
import { BootstrapNoncesSchema } from '../proto/bootstrap.ts'
import { parseRfc3339Ms } from '../proto/common.ts'
import { type FleetResolved, FleetResolvedSchema } from '../proto/fleet.ts'
import type { ChannelName } from '../proto/ids.ts'
import { summarizeIssues } from '../proto/issues.ts'
import { RevocationsSchema } from '../proto/revocations.ts'

/** One artifact of a release: where it goes (relative to the release dir) and its bytes. */
export type ReleaseFile = { readonly path: string; readonly canonical: Uint8Array }

/** What the release stamps into every artifact. */
export type ReleaseStamp = {
  readonly signedAt: string
  readonly ciCommit: string
  readonly signatureAlgorithm: string
}

/** A release that could not be assembled: one sentence naming the input and the problem. */
export class ReleaseInputError extends Error {
  override readonly name = 'ReleaseInputError'
}

type JsonObject = { [k: string]: JsonValue }

const isObject = (x: unknown): x is JsonObject =>
  x !== null && typeof x === 'object' && !Array.isArray(x)

function check<T>(schema: v.GenericSchema<unknown, T>, value: unknown, label: string): T {
  const r = v.safeParse(schema, value)
  if (!r.success) throw new ReleaseInputError(`${label}: ${summarizeIssues(r.issues)}`)
  return r.output
}

function meta(stamp: ReleaseStamp): JsonObject {
  return {
    schemaVersion: 1,
    signedAt: stamp.signedAt,
    ciCommit: stamp.ciCommit,
    signatureAlgorithm: stamp.signatureAlgorithm,
  }
}

/**
 * The fleet with closures injected, expired pins dropped and meta stamped, as a raw JSON
 * object. `closures` maps hostname → closure basename.
 */
export function stampFleet(
  raw: JsonValue,
  closures: Readonly<Record<string, string>>,
  stamp: ReleaseStamp
): JsonObject {
  if (!isObject(raw)) throw new ReleaseInputError('fleet.resolved: expected a JSON object')
  const hosts = raw.hosts
  if (!isObject(hosts)) throw new ReleaseInputError('fleet.resolved: hosts: expected an object')
  const now = parseRfc3339Ms(stamp.signedAt)
  const newHosts: JsonObject = {}
  for (const [name, host] of Object.entries(hosts)) {
    if (!isObject(host))
      throw new ReleaseInputError(`fleet.resolved: hosts.${name}: expected an object`)
    const h: JsonObject = { ...host }
    // Own keys only: a host named e.g. "constructor" must not pick up Object.prototype members.
    if (Object.hasOwn(closures, name)) h.closureHash = closures[name]!
    else if (!('closureHash' in h)) h.closureHash = null
    const pin = h.pin
    // An expired pin no longer holds the host back (reference: dropped before signing).
    if (isObject(pin) && typeof pin.expiresAt === 'string' && parseRfc3339Ms(pin.expiresAt) < now) {
      delete h.pin
    }
    newHosts[name] = h
  }
  for (const name of Object.keys(closures)) {
    if (!Object.hasOwn(hosts, name))
      throw new ReleaseInputError(`closures: host ${name.slice(0, 64)} is not in fleet.resolved`)
  }
  const out: JsonObject = {
    ...raw,
    hosts: newHosts,
    meta: { ...(isObject(raw.meta) ? raw.meta : {}), ...meta(stamp) },
  }
  if (out.schemaVersion === undefined) out.schemaVersion = 1
  return out
}

/** Every artifact of a release, canonical and schema-checked, fleet first. */
export function assembleRelease(input: {
  readonly fleet: JsonValue
  readonly closures: Readonly<Record<string, string>>
  readonly stamp: ReleaseStamp
  readonly revocations?: JsonValue | undefined
  readonly bootstrapNonces?: JsonValue | undefined
}): { files: ReleaseFile[]; fleet: FleetResolved; fleetHash: string; rolloutIds: string[] } {
  const stamped = stampFleet(input.fleet, input.closures, input.stamp)
  const fleet = check(FleetResolvedSchema, stamped, 'fleet.resolved')
  if (fleet.schemaVersion !== 1)
    throw new ReleaseInputError('fleet.resolved: schemaVersion must be 1')
  for (const [name, host] of Object.entries(fleet.hosts)) {
    if (!Object.hasOwn(fleet.channels, host.channel)) {
      throw new ReleaseInputError(
        `fleet.resolved: hosts.${name}.channel: channel ${host.channel} is not declared`
      )
    }
  }
  const fleetBytes = utf8(canonicalizeValue(stamped))
  const fleetHash = sha256Hex(fleetBytes)
  const files: ReleaseFile[] = [{ path: 'fleet.resolved.json', canonical: fleetBytes }]
  const rolloutIds: string[] = []
  for (const channel of Object.keys(fleet.channels).sort() as ChannelName[]) {
    const manifest = projectRolloutManifest(
      fleet,
      fleetHash,
      channel,
      input.stamp.signatureAlgorithm
    )
    if (!manifest) continue
    const id = rolloutIdFor(channel, input.stamp.ciCommit)
    rolloutIds.push(id)
    files.push({
      path: `rollouts/${id}.json`,
      canonical: utf8(canonicalizeValue(manifest as unknown as JsonValue)),
    })
  }
  if (input.revocations !== undefined) {
    files.push({
      path: 'revocations.json',
      canonical: stampList(input.revocations, 'revocations', input.stamp),
    })
  }
  if (input.bootstrapNonces !== undefined) {
    files.push({
      path: 'bootstrap-nonces.json',
      canonical: stampList(input.bootstrapNonces, 'bootstrapNonces', input.stamp),
    })
  }
  return { files, fleet, fleetHash, rolloutIds }
}

/** Stamps a revocations or bootstrap-nonces input (`{revocations:[…]}` or a bare array). */
function stampList(
  raw: JsonValue,
  key: 'revocations' | 'bootstrapNonces',
  stamp: ReleaseStamp
): Uint8Array {
  const label = key === 'revocations' ? 'revocations' : 'bootstrap-nonces'
  const obj: JsonObject = Array.isArray(raw) ? { [key]: raw } : isObject(raw) ? { ...raw } : {}
  if (!Array.isArray(obj[key]))
    throw new ReleaseInputError(`${label}: expected {"${key}": [...]} or an array`)
  obj.schemaVersion = 1
  obj.meta = meta(stamp)
  if (key === 'bootstrapNonces') {
    const signedAt = parseRfc3339Ms(stamp.signedAt)
    // Entries already expired at signing time can never enroll anything; the reference drops them.
    obj[key] = (obj[key] as JsonValue[]).filter(
      (e) =>
        !(isObject(e) && typeof e.expiresAt === 'string' && parseRfc3339Ms(e.expiresAt) < signedAt)
    )
    check(BootstrapNoncesSchema, obj, label)
  } else {
    check(RevocationsSchema, obj, label)
  }
  return utf8(canonicalizeValue(obj))
}
