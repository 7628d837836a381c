# The control plane. It reads the releases CI publishes in this repository (releases/ on the
# forge), issues the agents' certificates and dispatches rollouts. Its secrets are files on the
# host, readable by the `nixfleet-cp` user (README.md, "The control plane's secrets").
{ config, ... }:
let
  # Raw files of this repository's main branch on the forge (Forgejo/Gitea layout; on GitHub:
  # https://raw.githubusercontent.com/OWNER/FLEET/main/releases).
  releases = "https://git.example.org/ops/fleet/raw/branch/main/releases";
  secrets = "/var/lib/nixfleet-cp/secrets";
in
{
  networking.hostName = "cp";

  services.nixfleet.controlPlane = {
    enable = true;
    listen = "[::]:8443";
    openFirewall = true;
    strict = true;

    tls = {
      cert = "${secrets}/server.pem";
      key = "${secrets}/server.key";
      clientCa = "/etc/nixfleet/cp/fleet-ca.pem";
    };
    fleetCa = {
      cert = "/etc/nixfleet/cp/fleet-ca.pem";
      key = "${secrets}/ca.key";
      # strict refuses a CA key kept in a plain file unless told so.
      allowFileKey = true;
    };
    agentCnSuffix = "agents.fleet.example.org";

    channelRefsSource = {
      artifactUrl = "${releases}/fleet.resolved.json";
      signatureUrl = "${releases}/fleet.resolved.json.sig";
      # A read-only token of the forge (the other sources reuse it).
      tokenFile = "${secrets}/forge-token";
    };
    rolloutsSource = {
      artifactUrlTemplate = "${releases}/rollouts/{rolloutId}.json";
      signatureUrlTemplate = "${releases}/rollouts/{rolloutId}.json.sig";
    };
    revocationsSource = {
      artifactUrl = "${releases}/revocations.json";
      signatureUrl = "${releases}/revocations.json.sig";
    };
    bootstrapNoncesSource = {
      artifactUrl = "${releases}/bootstrap-nonces.json";
      signatureUrl = "${releases}/bootstrap-nonces.json.sig";
    };
    # CI posts to /v1/webhook/refresh with this token right after publishing a release.
    webhookTokenFile = "${secrets}/webhook-token";
  };

  # The fleet CA certificate is public: the CP checks client certificates against it.
  environment.etc."nixfleet/cp/fleet-ca.pem".text = config.services.nixfleet.trust.rootCaPem;
}
