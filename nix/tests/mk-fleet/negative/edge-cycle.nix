# Host edges must form a DAG; the message shows the cycle (a waits for b, which waits for …).
# error: nixfleet invariant violations:
# error: edges form a cycle (a -> b -> c -> a, each gated by the next); the DAG invariant is violated
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
  hosts = {
    a = host "stable";
    b = host "stable";
    c = host "stable";
    d = host "stable";
  };
  channels.stable = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  rolloutPolicies = { inherit all; };
  edges = [
    {
      gated = "d";
      gates = "a";
    }
    {
      gated = "a";
      gates = "b";
    }
    {
      gated = "b";
      gates = "c";
    }
    {
      gated = "c";
      gates = "a";
    }
  ];
}
