# A host in two pinned tags, without a pin of its own, is ambiguous.
# error: nixfleet invariant violations:
# error: host 'web-1' is in multiple tags with pins (freeze, audit) - disambiguate by lifting one of these pins to a host-level declaration on 'web-1', or removing the pin from one of the tags
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
  hosts.web-1 = host "stable" // {
    tags = [
      "freeze"
      "web"
      "audit"
    ];
  };
  tags.freeze.pin = {
    commit = "1111111111111111111111111111111111111111";
    reason = "freeze";
  };
  tags.audit.pin = {
    commit = "2222222222222222222222222222222222222222";
    reason = "audit";
  };
  tags.web.description = "web servers";
  channels.stable = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  rolloutPolicies = { inherit all; };
}
