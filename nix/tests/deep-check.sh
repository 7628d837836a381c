#!/usr/bin/env bash
# Evaluates both NixOS modules inside the real NixOS module system with the module-evaluation
# harness named by DEEP_CHECK (real nixpkgs lib/ and nixos/ of 2024-08, stub packages):
# the configurations of docs/nixos.md must evaluate to a whole system, and each broken variant
# below must be refused with its assertion message. Needs the harness and two nixpkgs trees:
#   DEEP_CHECK=/path/to/deep-check.sh nix/tests/deep-check.sh LIB_GIT NIXOS_GIT
#   (LIB_GIT from github:nix-community/nixpkgs.lib, NIXOS_GIT from github:RossComputerGuy/nixpkgs-llvm-ws)
# Prints the generated unit files. Not part of .ci/run: CI machines have no copy of those trees.
set -euo pipefail
[ $# -eq 2 ] || { sed -n '2,8p' "$0"; exit 2; }
lib_git=$1 nixos_git=$2
cd "$(dirname "$0")/../.."
deep=${DEEP_CHECK:?set DEEP_CHECK to the path of the module-evaluation harness (deep-check.sh)}
export NIX_CONFIG=$'experimental-features = nix-command flakes\nsubstituters ='
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

for module in agent control-plane; do
  echo "==> $module: nix/tests/$module-config.nix"
  out=$("$deep" "$lib_git" "$nixos_git" "nix/modules/$module.nix" "nix/tests/$module-config.nix")
  # The unit texts, readable (the script prints them as one JSON object).
  head -n 1 <<<"$out" | bun -e '
    for (const [name, text] of Object.entries(JSON.parse(await Bun.stdin.text()))) {
      console.log(`--- ${name}\n${text}`)
    }'
  echo "toplevel: $(tail -n 1 <<<"$out")"
done

# The CP host usually runs an agent too: both modules (and the shared trust module) at once.
echo "==> both modules on one host"
cat >"$work/both.nix" <<NIX
{ imports = [ $PWD/nix/modules/agent.nix $PWD/nix/modules/control-plane.nix ]; }
NIX
cat >"$work/both-config.nix" <<NIX
{ lib, pkgs, ... }:
{
  imports = [ $PWD/nix/tests/control-plane-config.nix ];
  services.nixfleet.agent = {
    enable = true;
    package = lib.mkOverride 1100 (pkgs.writeShellScriptBin "nixfleet" "");
    controlPlaneUrl = "https://cp.fleet.example.org:8443";
    bootstrapTokenFile = "/var/lib/nixfleet/bootstrap-token";
  };
}
NIX
out=$("$deep" "$lib_git" "$nixos_git" "$work/both.nix" "$work/both-config.nix")
head -n 1 <<<"$out" | bun -e 'console.log("units:", Object.keys(JSON.parse(await Bun.stdin.text())).join(", "))'
echo "toplevel: $(tail -n 1 <<<"$out")"

# config file | pattern the agent unit must match | what it shows
unit_has() {
  local out
  out=$("$deep" "$lib_git" "$nixos_git" nix/modules/agent.nix "$1")
  if grep -q -- "$2" <<<"$out"; then
    echo "  ok    the unit runs the agent with $3"
  else
    echo "  FAIL  no $3 in the unit"; failed=$((failed + 1))
  fi
}

# A host behind NAT: closures through the agent's loopback proxy to the CP, the same key trusted.
echo "==> agent with the closure proxy"
cat >"$work/proxy-config.nix" <<NIX
{ lib, ... }:
{
  imports = [ $PWD/nix/tests/agent-config.nix ];
  services.nixfleet.trust.cacheUrl = lib.mkForce null;
  services.nixfleet.agent.closureProxy.enable = true;
}
NIX
unit_has "$work/proxy-config.nix" '--closure-proxy-listen[\\" ]*127\.0\.0\.1:9465' \
  "--closure-proxy-listen 127.0.0.1:9465"

# Two control-plane replicas: one --control-plane-url each, in order.
echo "==> agent with two control planes"
cat >"$work/two-cps-config.nix" <<NIX
{ lib, ... }:
{
  imports = [ $PWD/nix/tests/agent-config.nix ];
  services.nixfleet.agent.controlPlaneUrl = lib.mkForce null;
  services.nixfleet.agent.controlPlaneUrls = [
    "https://cp-a.fleet.example.org:8443"
    "https://cp-b.fleet.example.org:8443"
  ];
}
NIX
unit_has "$work/two-cps-config.nix" \
  '--control-plane-url[\\" ]*https://cp-a\.fleet\.example\.org:8443[\\" ]*--control-plane-url[\\" ]*https://cp-b\.fleet\.example\.org:8443' \
  "--control-plane-url cp-a, then cp-b"

# Control-plane replicas: the CP on a PostgreSQL served by the same host, its password through
# LoadCredential (docs/nixos.md, "Control-plane replicas on PostgreSQL").
echo "==> control plane on PostgreSQL"
cat >"$work/postgres-config.nix" <<NIX
{ lib, pkgs, ... }:
{
  imports = [ $PWD/nix/tests/control-plane-config.nix ];
  services.postgresql = {
    enable = true;
    # The harness's stub packages lack the attributes the PostgreSQL module reads.
    package =
      let
        p = pkgs.postgresql_15 // { psqlSchema = "15"; version = "15.7"; withJIT = p; withoutJIT = p; };
      in
      p;
    ensureDatabases = [ "nixfleet" ];
    ensureUsers = [ { name = "nixfleet"; ensureDBOwnership = true; } ];
    authentication = ''
      host nixfleet nixfleet 127.0.0.1/32 scram-sha-256
    '';
  };
  services.nixfleet.controlPlane.database = {
    url = "postgres://nixfleet@127.0.0.1:5432/nixfleet";
    passwordFile = "/run/secrets/nixfleet-cp-db-password";
  };
}
NIX
out=$("$deep" "$lib_git" "$nixos_git" nix/modules/control-plane.nix "$work/postgres-config.nix")
for want in \
  'After=[^\\]*postgresql\.service' \
  'Wants=[^\\]*postgresql\.service' \
  'LoadCredential=database-password:/run/secrets/nixfleet-cp-db-password' \
  '--database[\\" ]*postgres://nixfleet@127\.0\.0\.1:5432/nixfleet' \
  '--database-password-file[\\" ]*/run/credentials/nixfleet-control-plane\.service/database-password'; do
  if grep -qE -- "$want" <<<"$out"; then
    echo "  ok    the unit has $want"
  else
    echo "  FAIL  no $want in the unit"; failed=$((failed + 1))
  fi
done
if grep -q -- '--db-path' <<<"$out"; then
  echo "  FAIL  the unit still passes --db-path"; failed=$((failed + 1))
fi

# name | module | config override (Nix, applied on top of the sample) | expected message
bad() {
  local name=$1 module=$2 override=$3 expect=$4 file out
  file="$work/$(tr -c 'a-z0-9' '-' <<<"$name").nix"
  cat >"$file" <<NIX
{ lib, ... }:
{
  imports = [ $PWD/nix/tests/$module-config.nix ];
  $override
}
NIX
  if out=$("$deep" "$lib_git" "$nixos_git" "nix/modules/$module.nix" "$file" 2>&1); then
    failed=$((failed + 1)); echo "  FAIL  $name: evaluated, expected a refusal"
  elif grep -qF -- "$expect" <<<"$out"; then
    echo "  ok    $name: $(grep -F -- "$expect" <<<"$out" | head -n 1 | sed 's/^ *//')"
  else
    failed=$((failed + 1)); echo "  FAIL  $name: refused for another reason:"; sed 's/^/        /' <<<"$out"
  fi
}

echo "==> assertions"
bad "agent: http control plane" agent \
  'services.nixfleet.agent.controlPlaneUrl = lib.mkForce "http://cp:8080";' \
  "controlPlaneUrl must start with https://"
bad "agent: no control plane" agent \
  'services.nixfleet.agent.controlPlaneUrl = lib.mkForce null;' \
  "needs a control plane"
bad "agent: http among several control planes" agent \
  'services.nixfleet.agent.controlPlaneUrls = [ "https://cp.fleet.example.org:8443" "http://cp-b:8080" ];' \
  "controlPlaneUrls must start with https:// (got 'http://cp-b:8080')"
bad "agent: controlPlaneUrl outside controlPlaneUrls" agent \
  'services.nixfleet.agent.controlPlaneUrls = [ "https://cp-b.fleet.example.org:8443" ];' \
  "is not among controlPlaneUrls"
bad "agent: no trust roots" agent \
  'services.nixfleet.trust.ciReleaseKey.current = lib.mkForce null;' \
  "needs the fleet's trust roots"
bad "agent: no fleet CA" agent \
  'services.nixfleet.trust.rootCaPem = lib.mkForce null;' \
  "cannot authenticate the control plane"
bad "agent: malformed key" agent \
  'services.nixfleet.trust.ciReleaseKey.current = lib.mkForce "not-a-key";' \
  "is not a base64 ed25519 public key"
bad "agent: successor without retireAt" agent \
  'services.nixfleet.trust.ciReleaseKey.successor = "11qYAYKxCrfVS/7TyWQHOg7hcvPaoiMlrwIaaPcHURo=";' \
  "successor and services.nixfleet.trust.ciReleaseKey.retireAt go together"
bad "agent: duplicate probe names" agent \
  'services.nixfleet.agent.healthChecks.tcp.site.port = 80;' \
  "probe names must be unique"
bad "agent: a client key other than the SSH host key" agent \
  'services.nixfleet.agent.clientKey = "/etc/ssh/other_key"; services.nixfleet.agent.sshHostKeyFile = "/etc/ssh/ssh_host_ed25519_key";' \
  "name different keys"
bad "agent: secret as a store path" agent \
  'services.nixfleet.agent.bootstrapTokenFile = lib.mkForce ./agent-config.nix;' \
  "absolute path, as a string"
bad "agent: cache keys without a cache" agent \
  'services.nixfleet.trust.cacheUrl = lib.mkForce null;' \
  "cacheKeys is set but no cache is"
bad "agent: a cache without its key" agent \
  'services.nixfleet.trust.cacheKeys = lib.mkForce [ ];' \
  "cacheKeys is empty"
bad "agent: the closure proxy without a key" agent \
  'services.nixfleet.trust.cacheKeys = lib.mkForce [ ]; services.nixfleet.agent.closureProxy.enable = true;' \
  "closureProxy.enable is set but services.nixfleet.trust.cacheKeys is empty"
bad "control-plane: no TLS" control-plane \
  'services.nixfleet.controlPlane.tls.key = lib.mkForce null;' \
  "tls.cert and tls.key are required"
bad "control-plane: half a URL pair" control-plane \
  'services.nixfleet.controlPlane.revocationsSource.signatureUrl = lib.mkForce null;' \
  "revocationsSource.artifactUrl and services.nixfleet.controlPlane.revocationsSource.signatureUrl must be set together"
bad "control-plane: no release source" control-plane \
  'services.nixfleet.controlPlane.channelRefsSource = { artifactUrl = lib.mkForce null; signatureUrl = lib.mkForce null; tokenFile = lib.mkForce null; };' \
  "needs a release source"
bad "control-plane: token over http" control-plane \
  'services.nixfleet.controlPlane.channelRefsSource.artifactUrl = lib.mkForce "http://git/fleet.json";' \
  "must not travel over plain http"
bad "control-plane: strict, file CA key not acknowledged" control-plane \
  'services.nixfleet.controlPlane.fleetCa.allowFileKey = lib.mkForce false;' \
  "needs fleetCa.allowFileKey = true"
bad "control-plane: no agent CN suffix" control-plane \
  'services.nixfleet.controlPlane.agentCnSuffix = lib.mkForce null;' \
  "agentCnSuffix is required"

bad "control-plane: a database password file for SQLite" control-plane \
  'services.nixfleet.controlPlane.database.passwordFile = "/run/secrets/db-password";' \
  "database.passwordFile is only for a postgres:// database.url"
bad "control-plane: a password in the database URL" control-plane \
  'services.nixfleet.controlPlane.database.url = "postgres://nixfleet:hunter2@db/nixfleet";' \
  "database.url carries a password"
bad "control-plane: an unknown database scheme" control-plane \
  'services.nixfleet.controlPlane.database.url = "mysql://nixfleet@db/nixfleet";' \
  "database.url must be sqlite:///absolute/path.db or postgres://"

[ "$failed" -eq 0 ] && echo "deep-check: all passed" || { echo "deep-check: $failed failed"; exit 1; }
