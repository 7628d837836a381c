# A channel whose rollout policy is not declared.
# error: nixfleet invariant violations:
# error: channel 'stable' references unknown rollout policy 'canary'
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
    rolloutPolicy = "canary";
    freshnessWindow = 180;
  };
  rolloutPolicies = { inherit all; };
}
