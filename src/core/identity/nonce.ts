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
