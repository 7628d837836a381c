# Types are checked before invariants, every problem at once, each at its path: unknown options
# (typos), missing required values, wrong types and values, module-system properties.
# error: nixfleet: invalid fleet definition:
# error: rolloutPolicys: no such option (the options here are: bootstrapNonces, channelEdges, channels, complianceFrameworks, disruptionBudgets, edges, hosts, revocations, rolloutPolicies, tags)
# error: hosts.web-1.tags: expected a list, got the string "web"
# error: hosts.web-2.channel: required, but not set
# error: hosts.web-2.pubkey: expected null or a string, got the path /etc/ssh/ssh_host_ed25519_key.pub
# error: channels.stable.freshnessWindow: expected an integer, got the string "180"
# error: channels.stable.compliance.strict: no such option (the options here are: frameworks, mode)
# error: channels.stable.reconcileIntervalMinutes: module-system properties (mkIf, mkDefault, mkForce, mkMerge, ...) are not supported in a fleet definition; write the plain value
# error: rolloutPolicies.all.strategy: expected one of "canary", "all-at-once", "staged", got the string "blue-green"
# error: rolloutPolicies.all.waves[0].selector.tags[1]: expected a string, got the number 3
# error: rolloutPolicies.all.waves[1].selector.not.hosts: expected a list, got the string "web-1"
# error: disruptionBudgets[0].maxInFlight: expected null or an integer, got the string "1"
# error: revocations[0].notBefore: required, but not set
{ mkFleet, stub, ... }:
mkFleet {
  hosts.web-1 = {
    system = "x86_64-linux";
    configuration = stub "web-1";
    channel = "stable";
    tags = "web";
  };
  hosts.web-2 = {
    system = "x86_64-linux";
    configuration = stub "web-2";
    pubkey = /etc/ssh/ssh_host_ed25519_key.pub;
  };
  channels.stable = {
    rolloutPolicy = "all";
    freshnessWindow = "180";
    compliance.strict = true;
    reconcileIntervalMinutes = {
      _type = "override";
      priority = 1000;
      content = 10;
    };
  };
  rolloutPolicies.all = {
    strategy = "blue-green";
    waves = [
      {
        selector.tags = [
          "web"
          3
        ];
      }
      { selector.not.hosts = "web-1"; }
    ];
  };
  disruptionBudgets = [
    {
      selector.all = true;
      maxInFlight = "1";
    }
  ];
  revocations = [ { hostname = "web-1"; } ];
  rolloutPolicys = { };
}
