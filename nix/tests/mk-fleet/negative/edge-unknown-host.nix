# Host edges must name declared hosts.
# error: nixfleet invariant violations:
# error: edges[0].gated references unknown host 'app-9'
# error: edges[1].gates references unknown host 'db-0'
{ mkFleet, stub, ... }:
let
  host = channel: {
    system = "x86_64-linux";
    configuration = stub "h";
    inherit channel;
  };
  all = {
    strategy = "all-at-once";
    waves = [ { selector.all = true; } ];
  };
in
mkFleet {
  hosts.db-1 = host "stable";
  hosts.app-1 = host "stable";
  channels.stable = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  rolloutPolicies = { inherit all; };
  edges = [
    {
      gated = "app-9";
      gates = "db-1";
    }
    {
      gated = "app-1";
      gates = "db-0";
    }
  ];
}
