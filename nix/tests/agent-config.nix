# hosts/web-01.nix of docs/nixos.md, for nix/tests/deep-check.sh (real NixOS module system,
# stub packages) and the flake's `checks`. Nothing is built here.
{ lib, pkgs, ... }:
{
  imports = [ ./trust-config.nix ];

  networking.hostName = "web-01";

  # The cache CI pushes closures to, and its key: Nix's substituter and trusted key on the host.
  services.nixfleet.trust = {
    cacheUrl = "https://cache.fleet.example.org";
    cacheKeys = [ "cache.fleet.example.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=" ];
  };

  services.nixfleet.agent = {
    enable = true;
    # Below the flake's mkDefault: a stand-in here, the real build through the flake.
    package = lib.mkOverride 1100 (pkgs.writeShellScriptBin "nixfleet" "");
    controlPlaneUrl = "https://cp.fleet.example.org:8443";
    bootstrapTokenFile = "/var/lib/nixfleet/bootstrap-token";

    healthChecks = {
      http.site = {
        url = "http://127.0.0.1:80/";
        intervalSeconds = 10;
      };
      tcp.postgres.port = 5432;
      exec.nginx.command = [
        "${pkgs.systemd}/bin/systemctl"
        "is-active"
        "nginx.service"
      ];
    };
    metricsListen = "127.0.0.1:9464";
    prefetch = true;
  };
}
