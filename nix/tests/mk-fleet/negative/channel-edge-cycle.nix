# Channel edges must form a DAG, whichever spelling each edge uses.
# error: nixfleet invariant violations:
# error: channelEdges form a cycle (stable -> canary -> stable, each gated by the next); cross-channel ordering must be a DAG
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
  hosts.web-1 = host "stable";
  channels.stable = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  channels.canary = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  rolloutPolicies = { inherit all; };
  channelEdges = [
    {
      gates = "canary";
      gated = "stable";
    }
    {
      before = "stable";
      after = "canary";
    }
  ];
}
