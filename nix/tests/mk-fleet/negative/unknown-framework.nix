# Channel compliance frameworks must be among complianceFrameworks.
# error: nixfleet invariant violations:
# error: channel 'stable' references unknown compliance framework 'pci-dss' (known: anssi-bp028, nis2, dora, iso27001)
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
    rolloutPolicy = "all";
    freshnessWindow = 180;
    compliance.frameworks = [
      "nis2"
      "pci-dss"
    ];
  };
  rolloutPolicies = { inherit all; };
}
