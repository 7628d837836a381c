/**
 * How long a used bootstrap nonce is remembered (spec protocol.md §7.2). Pure.
 * Invariant: at least until the token's own `expiresAt` — the token is refused as expired after
 * that, so forgetting the nonce earlier would make a long-lived token reusable — and never less
 * than the retention floor (a token's claims are checked against the CP's clock only).
 */

/** The instant until which a nonce used at `now` by a token expiring at `tokenExpiresAt` is kept. */
export function usedNonceKeptUntil(
  tokenExpiresAt: number,
  now: number,
  retentionMs: number
): number {
  return Math.max(tokenExpiresAt, now + retentionMs)
}

/**
 * Whether a token issued at `tokenIssuedAt` falls below the signed allow-list's `mintedAfter`
 * floor (`null`: no floor). A token issued exactly at the floor is accepted.
 */
export function mintedBeforeFloor(tokenIssuedAt: number, mintedAfter: number | null): boolean {
  return mintedAfter !== null && tokenIssuedAt < mintedAfter
}

/** What the floors say about a token: `database-lost` is refused until the list is re-signed. */
export type TokenFloorVerdict = 'ok' | 'minted-before-floor' | 'database-lost'

/**
 * The floors a token's signed `issuedAt` must clear. `list`: the adopted allow-list's signing
 * time and `mintedAfter` (`null`: none adopted); `dbLostAt`: when the CP found its database lost
 * (`null`: never). A lost database forgot which nonces were used, so every token issued before the
 * loss is refused — until the operator signs a list after the loss that carries `mintedAfter`:
 * then that floor, chosen knowing what may have been used, rules alone.
 */
export function tokenFloorVerdict(
  tokenIssuedAt: number,
  list: { readonly signedAt: number; readonly mintedAfter: number | null } | null,
  dbLostAt: number | null
): TokenFloorVerdict {
  const mintedAfter = list?.mintedAfter ?? null
  const resigned =
    list !== null && mintedAfter !== null && dbLostAt !== null && list.signedAt > dbLostAt
  if (dbLostAt !== null && !resigned && tokenIssuedAt < dbLostAt) return 'database-lost'
  return mintedBeforeFloor(tokenIssuedAt, mintedAfter) ? 'minted-before-floor' : 'ok'
}
