# `services.nixfleet.trust` option values → the trust.json the binary parses (src/proto/trust.ts,
# protocol §4). Builtins only, like argv.nix, so .ci/run can render it without nixpkgs.
#
# Field names are the protocol's: `rootCaPem` / `issuanceCaPems`. The reference module writes
# `rootCAPem` / `issuanceCAPems`, which the reference binary silently ignores (its CAs never
# arrive); our binary accepts both spellings, but the canonical one works with either binary.
trust:
let
  key =
    k:
    if k == null then
      null
    else
      {
        inherit (k) algorithm public;
      };
  slot = s: {
    current = key s.current;
    previous = key s.previous;
    rejectBefore = s.rejectBefore;
    successor = key s.successor;
    retireAt = s.retireAt;
  };
  org = trust.orgRootKey;
in
{
  schemaVersion = 1;
  ciReleaseKey = slot trust.ciReleaseKey;
  cacheKeys = trust.cacheKeys;
  # No org root key at all is `null` (agents never need it); a configured slot is a full slot.
  orgRootKey = if org.current == null && org.previous == null && org.successor == null then null else slot org;
  rootCaPem = trust.rootCaPem;
  issuanceCaPems = trust.issuanceCaPems;
}
