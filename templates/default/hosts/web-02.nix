# A web server of the `stable` channel, after the canary.
{ pkgs, ... }:
{
  networking.hostName = "web-02";

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
