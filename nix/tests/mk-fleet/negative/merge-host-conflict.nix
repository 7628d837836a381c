# mergeFleets: a host defined by two inputs is an error, even with identical definitions.
# error: mergeFleets: host 'web-1' is defined in multiple inputs (1, 3)
{ mergeFleets, stub, ... }:
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
mergeFleets [
  {
    hosts.web-1 = host "stable";
    channels.stable = {
      rolloutPolicy = "all";
      freshnessWindow = 180;
    };
    rolloutPolicies = { inherit all; };
  }
  { hosts.web-2 = host "stable"; }
  { hosts.web-1 = host "stable"; }
]
