# The fleet's public trust roots, for every host: agents verify releases with the CI release key,
# the control plane checks bootstrap tokens with the org root key, and both authenticate each
# other with the fleet CA. Public material only; the private halves never enter this repository
# (see README.md, "Keys"). Rotation: set `previous` (or `successor` and `retireAt`) next to
# `current`; the options are in NixFleet's docs/nixos.md.
{ lib, ... }:
let
  read =
    file: how:
    if builtins.pathExists file then
      lib.fileContents file
    else
      throw "${baseNameOf (toString file)} is missing from keys/: ${how}, then `git add keys` (README.md, \"Keys\")";
in
{
  services.nixfleet.trust = {
    ciReleaseKey.current = read ./keys/ci-release.pub "copy ci-release.pub from `nixfleet keygen --out ci-release`";
    orgRootKey.current = read ./keys/org-root.pub "copy org-root.pub from `nixfleet keygen --out org-root`";
    rootCaPem = read ./keys/fleet-ca.pem "copy fleet-ca/ca.pem from `nixfleet ca init --out fleet-ca`";
  };
}
