# A web server, and the canary of the `stable` channel (see `fleet` in flake.nix).
{ pkgs, ... }:
{
  networking.hostName = "web-01";

  services.nginx.enable = true;
  networking.firewall.allowedTCPPorts = [ 80 ];

  # After a switch the host soaks: these probes must pass before the rollout moves on, and a
  # sustained failure rolls it back.
  services.nixfleet.agent.healthChecks = {
    http.site.url = "http://127.0.0.1:80/";
    exec.nginx.command = [
      "${pkgs.systemd}/bin/systemctl"
      "is-active"
      "nginx.service"
    ];
  };
}
