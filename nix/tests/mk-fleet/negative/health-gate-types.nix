# healthGate is kept verbatim, but NixFleet's own members are type-checked: a string where a
# boolean is expected would otherwise be signed and read as "not set".
# error: nixfleet: invalid fleet definition:
# error: rolloutPolicies.all.healthGate.deferredCountsAsDone: expected a boolean, got the string "yes"
# error: rolloutPolicies.all.healthGate.sustainedFailureSecs: expected an integer, got the string "90"
{ mkFleet, stub, ... }:
mkFleet {
  hosts.web-1 = {
    system = "x86_64-linux";
    configuration = stub "web-1";
    channel = "stable";
  };
  channels.stable = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  rolloutPolicies.all = {
    strategy = "all-at-once";
    healthGate = {
      deferredCountsAsDone = "yes";
      sustainedFailureSecs = "90";
    };
  };
}
