# mergeFleets: channels and tags merge strictly too (rolloutPolicies do not: later wins).
# error: mergeFleets: conflicting definitions:
# error: tag 'eu' is defined in multiple inputs (1, 2)
# error: channel 'stable' is defined in multiple inputs (1, 2)
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
let
  part = name: freshnessWindow: {
    hosts.${name} = host "stable";
    tags.eu.description = "Europe";
    channels.stable = {
      rolloutPolicy = "all";
      inherit freshnessWindow;
    };
    rolloutPolicies = { inherit all; };
  };
in
mergeFleets [
  (part "a" 180)
  (part "b" 240)
]
