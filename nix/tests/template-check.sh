#!/usr/bin/env bash
# The repository template, end to end, with nixpkgs' real lib and NixOS modules but no binary
# cache: a stand-in nixpkgs flake is assembled from snapshots of nixpkgs' lib/ and nixos/ (of
# 2024-08) and the stub packages of the module-evaluation harness named by DEEP_CHECK; then
#   1. this flake's outputs and checks (mk-fleet and template-fleet included), evaluated
#      against the stand-in;
#   2. `nix flake init -t` of this flake in an empty directory, the key ceremony of
#      docs/nixos.md, `nix eval --json .#fleet.resolved`, the drvPath of every host's toplevel;
#   3. what the template's CI does, minus building and pushing: the revocations, enrolment list
#      and trust.json from the flake, `nixfleet release` of the evaluated fleet (stand-in
#      closures), then `nixfleet verify artifact` of the result.
# Not part of .ci/run: CI machines have no copy of those trees.
#   DEEP_CHECK=/path/to/deep-check.sh nix/tests/template-check.sh NIXFLEET LIB_GIT NIXOS_GIT
#   (LIB_GIT from github:nix-community/nixpkgs.lib, NIXOS_GIT from github:RossComputerGuy/nixpkgs-llvm-ws)
set -euo pipefail
[ $# -eq 3 ] || { sed -n '2,15p' "$0"; exit 2; }
nixfleet=$(realpath "$1") lib_git=$2 nixos_git=$3
repo=$(cd "$(dirname "$0")/../.." && pwd)
harness=$(dirname "$(realpath "${DEEP_CHECK:?set DEEP_CHECK to the path of the module-evaluation harness (deep-check.sh)}")")
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
# Flakes are copied into a store: a throw-away one under $work (no daemon, nothing built).
export NIX_CONFIG=$'experimental-features = nix-command flakes\nsubstituters =\nwarn-dirty = false'
export NIX_REMOTE="local?root=$work/root"

echo "==> stand-in nixpkgs: lib/ and nixos/ of 2024-08, stub packages"
standin=$work/nixpkgs
mkdir -p "$standin/maintainers" "$standin/stub"
# The lib of 2024-08-04, matching the nixos/ snapshot.
git --git-dir="$lib_git" archive 8bebd4c74f368aacb047f0141db09ec6b339733c lib | tar -x -C "$standin"
git --git-dir="$nixos_git" archive HEAD nixos/lib nixos/modules | tar -x -C "$standin"
echo '{ }' >"$standin/maintainers/maintainer-list.nix"
echo '{ lib }: { }' >"$standin/maintainers/team-list.nix"
# `pkgs.path` is nixpkgs' root: the documentation module reads nixos/ under it.
sed 's|^\( *\)path = \./\.;|\1path = ../.;|' "$harness/stub-pkgs.nix" >"$standin/stub/stub-pkgs.nix"
grep -q 'path = \.\./\.;' "$standin/stub/stub-pkgs.nix" || { echo "stub-pkgs.nix: no pkgs.path to point at nixpkgs' root"; exit 1; }
"$harness/gen-names.sh" "$standin/nixos" "$standin/stub" >/dev/null
cat >"$standin/flake.nix" <<'NIX'
{
  outputs =
    { self }:
    let
      # The stubs, plus what the template's hosts reach that they lack.
      pkgsFor =
        system:
        let
          stub = import ./stub/stub-pkgs.nix { lib = import ./lib; inherit system; };
          # NixOS modules reach packages through pkgs.__splicedPackages: keep it a fixpoint.
          pkgs =
            stub
            // {
              writers = stub.writers // { writeNginxConfig = name: text: stub.writeText name text; };
              nixos-artwork.wallpapers.simple-dark-gray-bootloader = stub.nixos-artwork // { gnomeFilePath = "/splash.png"; };
              nginxStable = let nginx = stub.nginxStable // { modules = [ ]; override = _: nginx; }; in nginx;
              __splicedPackages = pkgs;
              appendOverlays = _: pkgs;
              extend = _: pkgs;
              pkgs = pkgs;
              buildPackages = pkgs;
            };
        in
        pkgs;
      lib = (import ./lib).extend (
        final: _: {
          nixosSystem =
            args:
            import ./nixos/lib/eval-config.nix (
              { lib = final; system = null; pkgs = pkgsFor "x86_64-linux"; }
              // args
              # The snapshot has no nixos/doc, which the NixOS manual is built from.
              // { modules = args.modules ++ [ { documentation.nixos.enable = false; } ]; }
            );
        }
      );
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ] pkgsFor;
    };
}
NIX

echo "==> this flake's outputs and checks (committed files, against the stand-in)"
git clone --quiet "$repo" "$work/nixfleet"
# `nix flake lock` points this flake at the stand-in, for the steps below too.
(cd "$work/nixfleet" && nix flake lock --override-input nixpkgs "path:$standin" 2>/dev/null)
for attr in \
  'templates.default.description' \
  'lib --apply builtins.attrNames' \
  'nixosModules --apply builtins.attrNames' \
  'overlays --apply builtins.attrNames' \
  'packages.x86_64-linux.default.name' \
  'apps.x86_64-linux.default.type' \
  'checks.x86_64-linux --apply builtins.attrNames' \
  'checks.x86_64-linux.mk-fleet.drvPath' \
  'checks.x86_64-linux.template-fleet.drvPath' \
  'checks.x86_64-linux.agent-module.drvPath' \
  'checks.x86_64-linux.control-plane-module.drvPath' \
  'checks.x86_64-linux.check-config.drvPath'; do
  # shellcheck disable=SC2086 # "ATTR [--apply F]"
  echo "  .#$attr: $(cd "$work/nixfleet" && nix eval --json ".#"$attr)"
done
echo "==> nix flake init -t, then the key ceremony"
mkdir "$work/fleet" "$work/keys"
cd "$work/fleet"
# Nix 2.8 with a store outside /nix/store (as here) refuses the template's physical path; then
# copy what `nix flake init` copies: the template directory, as committed.
if ! nix flake init -t "git+file://$work/nixfleet" >"$work/init.log" 2>&1; then
  grep -q 'was not found in the Nix store' "$work/init.log" || { cat "$work/init.log"; exit 1; }
  echo "  (nix flake init needs a store under /nix/store; copying templates/default as it would)"
  cp -rT "$work/nixfleet/templates/default" .
fi
"$nixfleet" keygen --out "$work/keys/ci-release" >/dev/null 2>&1
"$nixfleet" keygen --out "$work/keys/org-root" >/dev/null 2>&1
"$nixfleet" ca init --out "$work/keys/fleet-ca" --server-name cp.fleet.example.org >/dev/null 2>&1
cp "$work/keys/ci-release.pub" "$work/keys/org-root.pub" keys/
cp "$work/keys/fleet-ca/ca.pem" keys/fleet-ca.pem
nix flake lock --override-input nixfleet "git+file://$work/nixfleet" --override-input nixpkgs "path:$standin" 2>/dev/null
find . -type f ! -path './.git/*' | sort | sed 's/^/  /'

echo "==> nix eval --json .#fleet.resolved"
nix eval --json .#fleet.resolved >"$work/fleet.json"
bun -e '
  const f = JSON.parse(await Bun.file(process.argv[1]).text())
  for (const [c, ws] of Object.entries(f.waves)) console.log(`  ${c}: ` + ws.map((w) => `[${w.hosts.join(" ")}] soak ${w.soakMinutes}`).join(", "))
  console.log(`  channelEdges: ${JSON.stringify(f.channelEdges)}`)
  console.log(`  disruptionBudgets: ${JSON.stringify(f.disruptionBudgets)}`)' "$work/fleet.json"

echo "==> every host's toplevel (the real NixOS module system, stub packages)"
closures="{"
for host in $(nix eval --raw .#nixosConfigurations --apply 'c: toString (builtins.attrNames c)'); do
  drv=$(nix eval --raw ".#nixosConfigurations.$host.config.system.build.toplevel.drvPath")
  echo "  $host: $drv"
  hash=$(basename "$drv" | cut -c1-32)
  closures+="\"$host\":\"/nix/store/$hash-nixos-system-$host\","
done
closures="${closures%,}}"

echo "==> the CI's release step, with stand-in closures"
nix eval --json .#fleet.revocations >"$work/revocations.json"
nix eval --json .#fleet.bootstrapNonces >"$work/bootstrap-nonces.json"
nix eval --json .#nixosConfigurations.cp.config.services.nixfleet.trust.json >"$work/trust.json"
echo "$closures" >"$work/closures.json"
"$nixfleet" release --fleet "$work/fleet.json" --closures "$work/closures.json" \
  --key "$work/keys/ci-release.key" --trust-file "$work/trust.json" \
  --revocations "$work/revocations.json" --bootstrap-nonces "$work/bootstrap-nonces.json" \
  --ci-commit 0123456789abcdef0123456789abcdef01234567 --release-dir releases | sed 's/^/  /'
"$nixfleet" verify artifact --artifact releases/fleet.resolved.json \
  --signature releases/fleet.resolved.json.sig --trust-file "$work/trust.json" | sed 's/^/  /'
echo "template-check: all passed"
