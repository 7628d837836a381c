# A host on a channel that is not declared.
# error: nixfleet invariant violations:
# error: host 'web-2' references unknown channel 'stabel'
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
  hosts.web-2 = host "stabel";
  channels.stable = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  rolloutPolicies = { inherit all; };
}
