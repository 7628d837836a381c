# hosts/cp.nix of docs/nixos.md (the control plane; its own agent is added by the "both modules"
# case of nix/tests/deep-check.sh), for deep-check and the flake's `checks`. Nothing is built.
{ lib, pkgs, ... }:
let
  git = "https://git.example.org/ops/fleet/raw/branch/main/releases";
in
{
  imports = [ ./trust-config.nix ];

  networking.hostName = "cp";

  services.nixfleet.controlPlane = {
    enable = true;
    # Below the flake's mkDefault: a stand-in here, the real build through the flake.
    package = lib.mkOverride 1100 (pkgs.writeShellScriptBin "nixfleet" "");
    listen = "[::]:8443";
    openFirewall = true;
    strict = true;

    tls = {
      cert = "/var/lib/nixfleet-cp/secrets/server.pem";
      key = "/var/lib/nixfleet-cp/secrets/server.key";
      clientCa = "/etc/nixfleet/cp/fleet-ca.pem";
    };
    fleetCa = {
      cert = "/etc/nixfleet/cp/fleet-ca.pem";
      key = "/var/lib/nixfleet-cp/secrets/ca.key";
      allowFileKey = true;
    };
    agentCnSuffix = "agents.fleet.example.org";

    channelRefsSource = {
      artifactUrl = "${git}/fleet.resolved.json";
      signatureUrl = "${git}/fleet.resolved.json.sig";
      tokenFile = "/var/lib/nixfleet-cp/secrets/forge-token";
    };
    rolloutsSource = {
      artifactUrlTemplate = "${git}/rollouts/{rolloutId}.json";
      signatureUrlTemplate = "${git}/rollouts/{rolloutId}.json.sig";
    };
    revocationsSource = {
      artifactUrl = "${git}/revocations.json";
      signatureUrl = "${git}/revocations.json.sig";
    };
    bootstrapNoncesSource = {
      artifactUrl = "${git}/bootstrap-nonces.json";
      signatureUrl = "${git}/bootstrap-nonces.json.sig";
    };
    webhookTokenFile = "/var/lib/nixfleet-cp/secrets/webhook-token";
  };

  environment.etc."nixfleet/cp/fleet-ca.pem".text = lib.mkDefault ''
    -----BEGIN CERTIFICATE-----
    MIIBjTCCATOgAwIBAgIUQ3JlYXRlZCBmb3IgbW9kdWxlIGNoZWNrczAKBggqhkjO
    -----END CERTIFICATE-----
  '';
}
