#!/usr/bin/env bash
# The Nix step of .ci/run (about 10 s, no network beyond apt):
#   1. installs Nix from apt when it is missing (nix-bin; no binary cache is ever reached);
#   2. parses every .nix file of the tree;
#   3. renders the modules' command lines for the sample configurations of
#      nix/tests/samples.nix (pure functions, builtins only: no nixpkgs needed) and runs each
#      through the binary's own `--check-config`: good samples must be accepted, bad ones
#      rejected with the expected message;
#   4. runs mkFleet's fixtures (nix/tests/mk-fleet/run.sh): golden `resolved` JSON, warnings,
#      refusals with their messages, and the repository template's fleet and CI workflow.
# usage: nix/ci.sh path/to/nixfleet
# The deeper NixOS evaluation (real module system) needs fetched trees: see docs/nixos.md.
set -euo pipefail
cd "$(dirname "$0")/.."
nixfleet=$(realpath "${1:?usage: nix/ci.sh path/to/nixfleet}")

if ! command -v nix-instantiate >/dev/null 2>&1; then
  echo "==> installing nix-bin (apt)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  apt_log=$(mktemp)
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nix-bin; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    exit 1
  fi
  rm -f "$apt_log"
fi
# No substituters: without them every Nix call would retry DNS for seconds.
export NIX_CONFIG=$'experimental-features = nix-command flakes\nsubstituters ='
# Evaluation only: the dummy store accepts no writes, so nothing needs a daemon or root.
export NIX_REMOTE=dummy://
echo "==> $(nix-instantiate --version)"

echo "==> nix: parse every .nix file"
# Tracked and new (not ignored) files, so the step also checks work not yet committed.
git ls-files -z --cached --others --exclude-standard -- '*.nix' |
  xargs -0 -r -n 200 nix-instantiate --parse >/dev/null
echo "$(git ls-files --cached --others --exclude-standard -- '*.nix' | wc -l) files parse"

echo "==> nix: module command lines against ${nixfleet#"$PWD"/} --check-config"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nix eval --raw --file nix/tests/samples.nix --argstr dir "$work/samples" script >"$work/check-config.sh"
nixfleet="$nixfleet" bash "$work/check-config.sh"

echo "==> nix: mkFleet (nix/lib/mk-fleet.nix) fixtures and the repository template"
bash nix/tests/mk-fleet/run.sh "$nixfleet"
