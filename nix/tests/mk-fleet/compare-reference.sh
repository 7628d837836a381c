#!/usr/bin/env bash
# Runs the reference implementation's own mkFleet test suite against nix/lib/mk-fleet.nix and
# reports, per fixture: for a golden fixture, whether our `resolved` is the same JSON as its
# .resolved.json; for a negative one, whether we refuse it, and why (next to the reference's
# own reason when its mk-fleet.nix is given too).
#
# usage: nix/tests/mk-fleet/compare-reference.sh SUITE_DIR NIXPKGS_LIB_DIR [REFERENCE_MK_FLEET_NIX]
#   SUITE_DIR               the reference's tests/lib/mk-fleet (fixtures/, negative/), extracted
#   NIXPKGS_LIB_DIR         a nixpkgs lib tree (its fixtures use nixpkgs' lib; the reference
#                           needs its module system)
#   REFERENCE_MK_FLEET_NIX  the reference's lib/mk-fleet.nix, to evaluate every fixture with it too
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,12p' "$0"; exit 2; }
suite=$(realpath "$1")
lib_dir=$(realpath "$2")
reference=${3:+$(realpath "$3")}
ours=$(realpath "$(dirname "$0")/../../lib/mk-fleet.nix")
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes\nsubstituters ='}
export NIX_REMOTE=${NIX_REMOTE:-dummy://}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/eval.nix" <<'NIX'
{ fixture, impl, libDir }:
let
  lib = import (libDir + "/lib");
  fleetLib = import impl { inherit lib; };
in
(import fixture { inherit lib; inherit (fleetLib) mkFleet mergeFleets; }).resolved
NIX
evaluate() { # impl fixture → stdout JSON, stderr Nix's
  nix-instantiate --eval --strict --json "$work/eval.nix" --arg fixture "$2" --arg impl "$1" --arg libDir "$lib_dir"
}
# The first line of a refusal that says why.
reason() {
  grep -vE '^(trace: |\s*(…|at |[0-9]+\||\|))' "$1" | sed -e 's/^error: //' -e 's/^ *//' |
    grep -vE '^(nixfleet invariant violations:|nixfleet: invalid fleet definition:|mergeFleets: conflicting definitions:|\(use .--show-trace.*)?$' | head -n 1 | cut -c1-150
}
same=0 different=0

echo "golden fixtures ($suite/fixtures):"
for fixture in "$suite"/fixtures/*.nix; do
  name=$(basename "$fixture" .nix)
  case $name in _*) continue ;; esac
  golden="${fixture%.nix}.resolved.json"
  if ! evaluate "$ours" "$fixture" >"$work/ours.json" 2>"$work/err"; then
    different=$((different + 1)); echo "  DIFFERENT  $name: we refuse it: $(reason "$work/err")"; continue
  fi
  verdict=$(nix-instantiate --eval --strict --expr "
    builtins.toJSON (builtins.fromJSON (builtins.readFile $work/ours.json))
    == builtins.toJSON (builtins.fromJSON (builtins.readFile $golden))")
  extra=""
  if [ -n "$reference" ]; then
    if evaluate "$reference" "$fixture" >"$work/ref.json" 2>/dev/null; then
      cmp -s "$work/ours.json" "$work/ref.json" && extra=", and to the reference's own output" ||
        extra=", but NOT to the reference's own output"
    else
      extra=" (the reference itself fails on it)"
    fi
  fi
  warnings=$(grep -c 'evaluation warning' "$work/err" || true)
  if [ "$verdict" = true ]; then
    same=$((same + 1)); echo "  same       $name: resolved equal to $(basename "$golden")$extra; $warnings warning(s)"
  else
    different=$((different + 1)); echo "  DIFFERENT  $name: resolved differs from $(basename "$golden")$extra"
  fi
done

echo "negative fixtures ($suite/negative):"
for fixture in "$suite"/negative/*.nix; do
  name=$(basename "$fixture" .nix)
  if evaluate "$ours" "$fixture" >/dev/null 2>"$work/err"; then
    different=$((different + 1)); echo "  DIFFERENT  $name: we accept it"; continue
  fi
  line="  refused    $name: ours: $(reason "$work/err")"
  if [ -n "$reference" ]; then
    if evaluate "$reference" "$fixture" >/dev/null 2>"$work/ref-err"; then
      line+=$'\n'"             reference: accepts it"
    else
      line+=$'\n'"             reference: $(reason "$work/ref-err")"
    fi
  fi
  same=$((same + 1)); echo "$line"
done
echo "compared: $same as the suite expects, $different not"
[ "$different" -eq 0 ]
