# Every violation is reported at once, in one message.
# error: nixfleet invariant violations:
# error:   - host 'b' references unknown channel 'beta'
# error:   - channel 'stable' references unknown rollout policy 'canary'
# error:   - edges[0].gates references unknown host 'z'
# error:   - channel 'stable': freshnessWindow (60) must be ≥ 2 × signingIntervalMinutes (60)
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
  hosts.a = host "stable";
  hosts.b = host "beta";
  channels.stable = {
    rolloutPolicy = "canary";
    freshnessWindow = 60;
  };
  edges = [
    {
      gated = "a";
      gates = "z";
    }
  ];
}
