# Evaluates one mkFleet test fixture (nix/tests/mk-fleet/{fixtures,negative}/*.nix); run.sh
# calls it. A fixture is a function of { lib, mkFleet, mergeFleets, withSignature, stub } that
# returns what mkFleet / mergeFleets return; `stub "name"` stands in for a nixosConfiguration.
#   nix-instantiate --eval --strict --json eval.nix --arg fixture ./fixtures/pins.nix -A resolved
# `lib` defaults to the shim; pass nixpkgs' lib (--arg lib 'import …/lib') to check with it.
{
  fixture,
  lib ? import ../lib-shim.nix,
}:
let
  fleetLib = import ../../lib/mk-fleet.nix { inherit lib; };
  stub = name: {
    config.system.build.toplevel = {
      outPath = "/nix/store/00000000000000000000000000000000-nixos-system-${name}";
      drvPath = "/nix/store/00000000000000000000000000000000-nixos-system-${name}.drv";
    };
  };
in
import fixture {
  inherit lib stub;
  inherit (fleetLib) mkFleet mergeFleets withSignature;
}
