# Channel edges: both ends must be declared channels, distinct, and each end given once, under
# its name or its deprecated alias, not both.
# error: nixfleet invariant violations:
# error: channelEdges[0] sets both `gates` and `before` - pick one (canonical: `gates`)
# error: channelEdges[1] sets both `gated` and `after` - pick one (canonical: `gated`)
# error: channelEdges[2] must set `gates` (or legacy alias `before`)
# error: channelEdges[3] must set `gated` (or legacy alias `after`)
# error: channelEdges[4].gates references unknown channel 'canry'
# error: channelEdges[5].gated references unknown channel 'stabel'
# error: channelEdges[6] has gates == gated ('stable'); use a wave-staged policy for intra-channel ordering instead
# error: channelEdges form a cycle (stable -> stable, each gated by the next); cross-channel ordering must be a DAG
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
      before = "canary";
      gated = "stable";
    }
    {
      gates = "canary";
      gated = "stable";
      after = "stable";
    }
    { gated = "stable"; }
    { before = "canary"; }
    {
      gates = "canry";
      gated = "stable";
    }
    {
      before = "canary";
      after = "stabel";
    }
    {
      gates = "stable";
      gated = "stable";
    }
  ];
}
