# A host edge joins two hosts of one channel; ordering channels is channelEdges' job.
# error: nixfleet invariant violations:
# error: edges[0]: edge.gated 'app-1' (channel 'stable') and edge.gates 'db-1' (channel 'beta') are on different channels; use channelEdges for cross-channel ordering
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
  hosts.db-1 = host "beta";
  hosts.app-1 = host "stable";
  channels.stable = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  channels.beta = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  rolloutPolicies = { inherit all; };
  edges = [
    {
      gated = "app-1";
      gates = "db-1";
      reason = "migrations";
    }
  ];
}
