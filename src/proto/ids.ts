/**
 * Branded identifiers of the protocol: hostnames, channel names, CI commits, rollout ids, closure
 * hashes and SHA-256 digests. Proto is the only place that mints these brands; everything else
 * receives them from a schema parse or from `formatRolloutId`.
 *
 * Invariants (do not change without a protocol update):
 * - `RolloutId` is `{channel}@{ciCommit}`, split on the first '@', with the exact character classes
 *   of the reference's route validator (`looks_like_rollout_id`), so ids round-trip with it.
 * - `ClosureHash` has two parsers sharing one brand: the strict store-path basename for our own
 *   new inputs, and the lenient wire form for signed artifacts (see `WireClosureHashSchema`).
 */
import * as v from 'valibot'

/**
 * Fleet hostnames are map keys of fleet.resolved and become the agent's machine id and its
 * certificate CN (`agent-<host>.<suffix>`), so they must be DNS-safe-ish. We accept one DNS name or
 * label (letters, digits, '.', '_', '-'; must start alphanumeric; ≤ 253 chars, the DNS limit). '_'
 * is tolerated because Nix attribute names often use it; '@', '/', spaces and ':' never appear.
 */
const HOSTNAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/

/** The schema of a fleet hostname (map key of `hosts`, agent machine id). */
export const HostnameSchema = v.pipe(
  v.string(),
  v.regex(HOSTNAME_RE, 'expected a hostname ([A-Za-z0-9][A-Za-z0-9._-]*, at most 253 chars)'),
  v.brand('Hostname')
)
/** The fleet hostname. */
export type Hostname = v.InferOutput<typeof HostnameSchema>

/** The schema of a channel name; the reference's rollout-id validator allows only these chars. */
export const ChannelNameSchema = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9_-]+$/, 'expected a channel name ([a-z0-9_-]+)'),
  v.brand('ChannelName')
)
/** The channel name. */
export type ChannelName = v.InferOutput<typeof ChannelNameSchema>

/** The schema of a CI commit (the `channelRef` half of a rollout id): lowercase hex. */
export const CiCommitSchema = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]+$/, 'expected a commit id (lowercase hex)'),
  v.brand('CiCommit')
)
/** The CI commit id. */
export type CiCommit = v.InferOutput<typeof CiCommitSchema>

// One regex for the whole id: both halves exclude '@', so "no second '@'" holds by construction.
const ROLLOUT_ID_RE = /^[a-z0-9_-]+@[0-9a-f]+$/

/** The schema of a rollout id, `{channel}@{ciCommit}` (RFC-0008 §6.3). */
export const RolloutIdSchema = v.pipe(
  v.string(),
  v.regex(ROLLOUT_ID_RE, 'expected a rollout id ({channel}@{lowercase hex commit})'),
  v.brand('RolloutId')
)
/** The rollout id. */
export type RolloutId = v.InferOutput<typeof RolloutIdSchema>

/**
 * The strict store-path basename: 32 nix-base32 chars (digits and lowercase letters without
 * e, o, u, t), '-', then a store name of [A-Za-z0-9+._?=-]. Nix caps the name at 211 chars.
 */
const STORE_BASENAME_RE = /^[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+._?=-]{1,211}$/

/** The schema of a closure hash we produce or accept from our own inputs (strict basename). */
export const ClosureHashSchema = v.pipe(
  v.string(),
  v.regex(STORE_BASENAME_RE, 'expected a store path basename (<32 nix-base32 chars>-<name>)'),
  v.brand('ClosureHash')
)
/** The closure hash: the basename of a toplevel store path. */
export type ClosureHash = v.InferOutput<typeof ClosureHashSchema>

/**
 * The schema of a closure hash inside a signed artifact. Lenient on purpose: the reference types it
 * as a bare string and older signed artifacts carry values such as "sha256-abc123" or 40-char
 * digests; refusing them would break migration without re-signing (DECISIONS §2). It still can't
 * be empty or contain '/', so it can never be mistaken for, or joined into, a path. Same brand as
 * the strict form so closures from artifacts and from agents compare without casts.
 */
export const WireClosureHashSchema = v.pipe(
  v.string(),
  v.regex(/^[^/]+$/, 'expected a closure hash (non-empty, no "/")'),
  v.brand('ClosureHash')
)

/** The schema of a lowercase hex SHA-256 digest (`fleetResolvedHash`, content hashes). */
export const Sha256HexSchema = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 digest (64 lowercase hex chars)'),
  v.brand('Sha256Hex')
)
/** The lowercase hex SHA-256 digest. */
export type Sha256Hex = v.InferOutput<typeof Sha256HexSchema>

/** The rollout id of a channel at a CI commit. */
export function formatRolloutId(channel: ChannelName, ciCommit: CiCommit): RolloutId {
  // Both halves are already validated, so the concatenation satisfies ROLLOUT_ID_RE.
  return `${channel}@${ciCommit}` as RolloutId
}

/** The two halves of a rollout id, or undefined when `s` is not one. */
export function parseRolloutId(
  s: string
): { channel: ChannelName; ciCommit: CiCommit } | undefined {
  if (!ROLLOUT_ID_RE.test(s)) return undefined
  const at = s.indexOf('@')
  return {
    channel: s.slice(0, at) as ChannelName,
    ciCommit: s.slice(at + 1) as CiCommit,
  }
}
