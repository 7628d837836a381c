# A release must stay acceptable for two signing intervals, so one missed re-sign strands no one.
# error: nixfleet invariant violations:
# error: channel 'slow': freshnessWindow (1439) must be ≥ 2 × signingIntervalMinutes (720)
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
  hosts.web-1 = host "slow";
  channels.slow = {
    rolloutPolicy = "all";
    signingIntervalMinutes = 720;
    freshnessWindow = 1439;
  };
  channels.ok = {
    rolloutPolicy = "all";
    freshnessWindow = 120;
  };
  rolloutPolicies = { inherit all; };
}
