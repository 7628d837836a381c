# A host's configuration must be a nixosConfiguration (it has config.system.build.toplevel).
# error: nixfleet invariant violations:
# error: host 'half' configuration is not a valid nixosConfiguration (missing config.system.build.toplevel)
# error: host 'text' configuration is not a valid nixosConfiguration (missing config.system.build.toplevel)
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
  hosts.good = host "stable";
  hosts.text = host "stable" // {
    configuration = "nixosConfigurations.text";
  };
  hosts.half = host "stable" // {
    configuration.config.system.build = { };
  };
  channels.stable = {
    rolloutPolicy = "all";
    freshnessWindow = 180;
  };
  rolloutPolicies = { inherit all; };
}
